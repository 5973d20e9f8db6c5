"""Plain eager-PyTorch CycleGAN training step: the baseline the i2i benchmark compares against.

Written the way a user of junyanz/pytorch-CycleGAN-and-pix2pix would write it, with the paper
defaults of that repository: ResNet-9-block generators (ngf=64), 70x70 PatchGAN discriminators
(ndf=64, n_layers=3), instance norm, normal(0, 0.02) init, LSGAN loss, cycle L1 x10, identity L1
x5, an image pool of 50 and Adam(2e-4, betas=(0.5, 0.999)). ``PlainCycleGAN.step`` follows the
order and computation of the reference ``CycleGANModel.optimize_parameters``.

This file deliberately imports nothing from i2i, only torch and the standard library.

    python benchmarks/plain_cyclegan.py --size 128 --steps 5
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import time
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode


class ResnetBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=True),
            nn.InstanceNorm2d(dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=True),
            nn.InstanceNorm2d(dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


def resnet_generator(
    in_nc: int = 3, out_nc: int = 3, ngf: int = 64, n_blocks: int = 9
) -> nn.Module:
    layers: list[nn.Module] = [
        nn.ReflectionPad2d(3),
        nn.Conv2d(in_nc, ngf, kernel_size=7, padding=0, bias=True),
        nn.InstanceNorm2d(ngf),
        nn.ReLU(True),
    ]
    for i in range(2):  # downsampling
        mult = 2**i
        layers += [
            nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1, bias=True),
            nn.InstanceNorm2d(ngf * mult * 2),
            nn.ReLU(True),
        ]
    layers += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
    for i in range(2):  # upsampling
        mult = 2 ** (2 - i)
        layers += [
            nn.ConvTranspose2d(
                ngf * mult,
                ngf * mult // 2,
                kernel_size=3,
                stride=2,
                padding=1,
                output_padding=1,
                bias=True,
            ),
            nn.InstanceNorm2d(ngf * mult // 2),
            nn.ReLU(True),
        ]
    layers += [
        nn.ReflectionPad2d(3),
        nn.Conv2d(ngf, out_nc, kernel_size=7, padding=0, bias=True),
        nn.Tanh(),
    ]
    return nn.Sequential(*layers)


def patchgan_discriminator(in_nc: int = 3, ndf: int = 64, n_layers: int = 3) -> nn.Module:
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
                bias=True,
            ),
            nn.InstanceNorm2d(ndf * nf_mult),
            nn.LeakyReLU(0.2, True),
        ]
    layers.append(nn.Conv2d(ndf * nf_mult, 1, kernel_size=4, stride=1, padding=1))
    return nn.Sequential(*layers)


def init_weights(net: nn.Module, gain: float = 0.02) -> None:
    """Reference ``init_type='normal'``: conv weights ~ N(0, 0.02), biases 0."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class ImagePool:
    """Reference history buffer: fill up to ``size``, then return a stored image 50% of the time."""

    def __init__(self, size: int = 50, seed: int = 0) -> None:
        self.size = size
        self.images: list[Tensor] = []
        self.rng = random.Random(seed)

    def query(self, images: Tensor) -> Tensor:
        if self.size == 0:
            return images
        out: list[Tensor] = []
        for image in images.detach().unbind(0):
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif self.rng.uniform(0, 1) > 0.5:
                idx = self.rng.randint(0, self.size - 1)
                out.append(self.images[idx].clone())
                self.images[idx] = image
            else:
                out.append(image)
        return torch.cat(out, 0)


def set_requires_grad(nets: list[nn.Module], flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


class PlainCycleGAN:
    def __init__(
        self,
        device: str | torch.device = "cpu",
        seed: int = 0,
        lambda_a: float = 10.0,
        lambda_b: float = 10.0,
        lambda_idt: float = 0.5,
        pool_size: int = 50,
        lr: float = 2e-4,
    ) -> None:
        self.device = torch.device(device)
        torch.manual_seed(seed)
        nets = [resnet_generator(), resnet_generator(), patchgan_discriminator()]
        nets.append(patchgan_discriminator())
        for net in nets:
            init_weights(net)
        self.netG_A, self.netG_B, self.netD_A, self.netD_B = (n.to(self.device) for n in nets)
        self.lambda_a, self.lambda_b, self.lambda_idt = lambda_a, lambda_b, lambda_idt
        self.fake_A_pool = ImagePool(pool_size, seed)
        self.fake_B_pool = ImagePool(pool_size, seed + 1)
        self.criterion_gan = nn.MSELoss()  # LSGAN
        self.criterion_cycle = nn.L1Loss()
        self.criterion_idt = nn.L1Loss()
        self.optimizer_G = torch.optim.Adam(
            itertools.chain(self.netG_A.parameters(), self.netG_B.parameters()),
            lr=lr,
            betas=(0.5, 0.999),
        )
        self.optimizer_D = torch.optim.Adam(
            itertools.chain(self.netD_A.parameters(), self.netD_B.parameters()),
            lr=lr,
            betas=(0.5, 0.999),
        )

    def gan_loss(self, pred: Tensor, target_is_real: bool) -> Tensor:
        target = torch.ones_like(pred) if target_is_real else torch.zeros_like(pred)
        return self.criterion_gan(pred, target)

    def amp(self, dtype: torch.dtype | None) -> AbstractContextManager:
        """Autocast context for forward + loss computation (backward runs outside it)."""
        return nullcontext() if dtype is None else torch.autocast(self.device.type, dtype=dtype)

    def backward_d_basic(
        self, net_d: nn.Module, real: Tensor, fake: Tensor, dtype: torch.dtype | None
    ) -> Tensor:
        with self.amp(dtype):
            loss_real = self.gan_loss(net_d(real), True)
            loss_fake = self.gan_loss(net_d(fake.detach()), False)
            loss_d = (loss_real + loss_fake) * 0.5
        loss_d.backward()
        return loss_d

    def step(
        self, real_A: Tensor, real_B: Tensor, autocast_dtype: torch.dtype | None = None
    ) -> dict[str, float]:
        # forward
        with self.amp(autocast_dtype):
            fake_B = self.netG_A(real_A)
            rec_A = self.netG_B(fake_B)
            fake_A = self.netG_B(real_B)
            rec_B = self.netG_A(fake_A)

        # G_A and G_B
        set_requires_grad([self.netD_A, self.netD_B], False)
        self.optimizer_G.zero_grad()
        with self.amp(autocast_dtype):
            idt_w = self.lambda_idt
            loss_idt_A = self.criterion_idt(self.netG_A(real_B), real_B) * self.lambda_b * idt_w
            loss_idt_B = self.criterion_idt(self.netG_B(real_A), real_A) * self.lambda_a * idt_w
            loss_G_A = self.gan_loss(self.netD_A(fake_B), True)
            loss_G_B = self.gan_loss(self.netD_B(fake_A), True)
            loss_cycle_A = self.criterion_cycle(rec_A, real_A) * self.lambda_a
            loss_cycle_B = self.criterion_cycle(rec_B, real_B) * self.lambda_b
            loss_G = loss_G_A + loss_G_B + loss_cycle_A + loss_cycle_B + loss_idt_A + loss_idt_B
        loss_G.backward()
        self.optimizer_G.step()

        # D_A and D_B
        set_requires_grad([self.netD_A, self.netD_B], True)
        self.optimizer_D.zero_grad()
        fake_B_pooled = self.fake_B_pool.query(fake_B)
        loss_D_A = self.backward_d_basic(self.netD_A, real_B, fake_B_pooled, autocast_dtype)
        fake_A_pooled = self.fake_A_pool.query(fake_A)
        loss_D_B = self.backward_d_basic(self.netD_B, real_A, fake_A_pooled, autocast_dtype)
        self.optimizer_D.step()

        # one host sync for both values; "D" is loss_D_A + loss_D_B
        losses = torch.stack([loss_G.detach().float(), (loss_D_A + loss_D_B).detach().float()])
        g, d = losses.tolist()
        return {"G": g, "D": d}


def count_flops(model: PlainCycleGAN, size: int) -> int:
    """Total FLOPs (forward + backward, both G and D steps) of one training step at batch 1.

    Note: this runs a real step, so it updates the model's weights, optimizer state and pools.
    """
    real_A = torch.randn(1, 3, size, size, device=model.device)
    real_B = torch.randn(1, 3, size, size, device=model.device)
    with FlopCounterMode(display=False) as counter:
        model.step(real_A, real_B)
    return int(counter.get_total_flops())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--bf16", action="store_true", help="autocast forward+loss to bfloat16")
    args = parser.parse_args()

    device = torch.device(args.device)
    model = PlainCycleGAN(device=device, seed=0)
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
