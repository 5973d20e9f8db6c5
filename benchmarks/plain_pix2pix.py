"""Plain eager-PyTorch pix2pix training step: the baseline the i2i benchmark compares against.

Written the way a user of junyanz/pytorch-CycleGAN-and-pix2pix would write it, with the paper
defaults of that repository: U-Net generator ``unet_256`` (num_downs=8, ngf=64, dropout 0.5 in
the middle ngf*8 blocks), conditional 70x70 PatchGAN discriminator on concat(A, B) (ndf=64,
n_layers=3), batch norm (conv bias off where a norm follows), normal(0, 0.02) init, vanilla GAN
loss (BCE with logits), L1 x100 and Adam(2e-4, betas=(0.5, 0.999)). ``PlainPix2Pix.step`` follows
the order and computation of the reference ``Pix2PixModel.optimize_parameters`` (D step first,
then G step; pool_size 0, so no image pool). The networks stay in train mode throughout.

This file deliberately imports nothing from i2i, only torch and the standard library.

    python benchmarks/plain_pix2pix.py --size 256 --steps 5
    python benchmarks/plain_pix2pix.py --size 64 --num-downs 6 --steps 2  # small smoke run
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode


class UnetSkipBlock(nn.Module):
    """Reference ``UnetSkipConnectionBlock`` with batch norm: x -> cat(x, up(sub(down(x))))."""

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        input_nc: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        use_dropout: bool = False,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        innermost = submodule is None
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=False)
        up_nc = inner_nc if innermost else inner_nc * 2
        layers: list[nn.Module]
        if outermost:
            if submodule is None:
                raise ValueError("the outermost block needs a submodule")
            upconv = nn.ConvTranspose2d(up_nc, outer_nc, kernel_size=4, stride=2, padding=1)
            layers = [downconv, submodule, nn.ReLU(True), upconv, nn.Tanh()]
        else:
            upconv = nn.ConvTranspose2d(
                up_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=False
            )
            # The in-place LeakyReLU also rewrites x before the skip concat, as in the reference.
            layers = [nn.LeakyReLU(0.2, True), downconv]
            if not innermost:
                layers += [nn.BatchNorm2d(inner_nc), submodule]
            layers += [nn.ReLU(True), upconv, nn.BatchNorm2d(outer_nc)]
            if use_dropout and not innermost:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


def unet_generator(
    in_nc: int = 3, out_nc: int = 3, num_downs: int = 8, ngf: int = 64, use_dropout: bool = True
) -> nn.Module:
    """Reference ``UnetGenerator`` (``unet_256`` for num_downs=8); size % 2**num_downs == 0."""
    if num_downs < 5:
        raise ValueError(f"num_downs must be >= 5, got {num_downs}")
    block = UnetSkipBlock(ngf * 8, ngf * 8)  # innermost
    for _ in range(num_downs - 5):
        block = UnetSkipBlock(ngf * 8, ngf * 8, submodule=block, use_dropout=use_dropout)
    for mult in (4, 2, 1):
        block = UnetSkipBlock(ngf * mult, ngf * mult * 2, submodule=block)
    return UnetSkipBlock(out_nc, ngf, input_nc=in_nc, submodule=block, outermost=True)


def patchgan_discriminator(in_nc: int = 6, ndf: int = 64, n_layers: int = 3) -> nn.Module:
    """Reference ``NLayerDiscriminator`` with batch norm (70x70 receptive field for n_layers=3)."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_nc, ndf, kernel_size=4, stride=2, padding=1),
        nn.LeakyReLU(0.2, True),
    ]
    nf_mult = 1
    for n in range(1, n_layers + 1):  # n_layers - 1 stride-2 layers, then one stride-1 layer
        nf_prev, nf_mult = nf_mult, min(2**n, 8)
        layers += [
            nn.Conv2d(
                ndf * nf_prev,
                ndf * nf_mult,
                kernel_size=4,
                stride=2 if n < n_layers else 1,
                padding=1,
                bias=False,
            ),
            nn.BatchNorm2d(ndf * nf_mult),
            nn.LeakyReLU(0.2, True),
        ]
    layers.append(nn.Conv2d(ndf * nf_mult, 1, kernel_size=4, stride=1, padding=1))
    return nn.Sequential(*layers)


def init_weights(net: nn.Module, gain: float = 0.02) -> None:
    """Reference ``init_type='normal'``: conv weights ~ N(0, 0.02), BN weights ~ N(1, 0.02)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


def set_requires_grad(nets: list[nn.Module], flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


class PlainPix2Pix:
    def __init__(
        self,
        device: str | torch.device = "cpu",
        seed: int = 0,
        num_downs: int = 8,
        ngf: int = 64,
        ndf: int = 64,
        n_layers_d: int = 3,
        lambda_l1: float = 100.0,
        lr: float = 2e-4,
    ) -> None:
        self.device = torch.device(device)
        torch.manual_seed(seed)
        net_g = unet_generator(3, 3, num_downs=num_downs, ngf=ngf, use_dropout=True)
        net_d = patchgan_discriminator(3 + 3, ndf=ndf, n_layers=n_layers_d)
        for net in (net_g, net_d):
            init_weights(net)
            net.train()
        self.netG, self.netD = net_g.to(self.device), net_d.to(self.device)
        self.lambda_l1 = lambda_l1
        self.criterion_gan = nn.BCEWithLogitsLoss()  # vanilla GAN
        self.criterion_l1 = nn.L1Loss()
        self.optimizer_G = torch.optim.Adam(self.netG.parameters(), lr=lr, betas=(0.5, 0.999))
        self.optimizer_D = torch.optim.Adam(self.netD.parameters(), lr=lr, betas=(0.5, 0.999))

    def gan_loss(self, pred: Tensor, target_is_real: bool) -> Tensor:
        target = torch.ones_like(pred) if target_is_real else torch.zeros_like(pred)
        return self.criterion_gan(pred, target)

    def amp(self, dtype: torch.dtype | None) -> AbstractContextManager:
        """Autocast context for forward + loss computation (backward runs outside it)."""
        return nullcontext() if dtype is None else torch.autocast(self.device.type, dtype=dtype)

    def step(
        self, real_A: Tensor, real_B: Tensor, autocast_dtype: torch.dtype | None = None
    ) -> dict[str, float]:
        # forward
        with self.amp(autocast_dtype):
            fake_B = self.netG(real_A)

        # D
        set_requires_grad([self.netD], True)
        self.optimizer_D.zero_grad()
        with self.amp(autocast_dtype):
            fake_AB = torch.cat((real_A, fake_B), 1)
            loss_D_fake = self.gan_loss(self.netD(fake_AB.detach()), False)
            real_AB = torch.cat((real_A, real_B), 1)
            loss_D_real = self.gan_loss(self.netD(real_AB), True)
            loss_D = (loss_D_fake + loss_D_real) * 0.5
        loss_D.backward()
        self.optimizer_D.step()

        # G
        set_requires_grad([self.netD], False)
        self.optimizer_G.zero_grad()
        with self.amp(autocast_dtype):
            fake_AB = torch.cat((real_A, fake_B), 1)
            loss_G_GAN = self.gan_loss(self.netD(fake_AB), True)
            loss_G_L1 = self.criterion_l1(fake_B, real_B) * self.lambda_l1
            loss_G = loss_G_GAN + loss_G_L1
        loss_G.backward()
        self.optimizer_G.step()

        # one host sync for both values
        losses = torch.stack([loss_G.detach().float(), loss_D.detach().float()])
        g, d = losses.tolist()
        return {"G": g, "D": d}


def count_flops(model: PlainPix2Pix, size: int) -> int:
    """Total FLOPs (forward + backward, both D and G steps) of one training step at batch 1.

    Note: this runs a real step, so it updates the model's weights, BN stats and optimizer state.
    """
    real_A = torch.randn(1, 3, size, size, device=model.device)
    real_B = torch.randn(1, 3, size, size, device=model.device)
    with FlopCounterMode(display=False) as counter:
        model.step(real_A, real_B)
    return int(counter.get_total_flops())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--bf16", action="store_true", help="autocast forward+loss to bfloat16")
    parser.add_argument(
        "--num-downs", type=int, default=8, help="U-Net depth (8 = unet_256, needs size >= 256)"
    )
    args = parser.parse_args()
    if args.num_downs < 5:
        parser.error(f"--num-downs must be >= 5, got {args.num_downs}")
    if args.size % 2**args.num_downs != 0:
        parser.error(f"--size must be a multiple of 2**num_downs = {2**args.num_downs}")

    device = torch.device(args.device)
    model = PlainPix2Pix(device=device, seed=0, num_downs=args.num_downs)
    flops = count_flops(model, args.size)
    gen = torch.Generator().manual_seed(1)
    real_A = (torch.rand(1, 3, args.size, args.size, generator=gen) * 2 - 1).to(device)
    real_B = (torch.rand(1, 3, args.size, args.size, generator=gen) * 2 - 1).to(device)
    dtype = torch.bfloat16 if args.bf16 else None

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(args.warmup):
        model.step(real_A, real_B, autocast_dtype=dtype)
    sync()
    start = time.perf_counter()
    for _ in range(args.steps):
        model.step(real_A, real_B, autocast_dtype=dtype)
    sync()
    sec = (time.perf_counter() - start) / max(args.steps, 1)
    print(json.dumps({"sec_per_iter": sec, "flops_per_iter": flops}))


if __name__ == "__main__":
    main()
