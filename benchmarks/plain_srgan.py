"""Plain eager-PyTorch ESRGAN (GAN stage) training step: the baseline the i2i benchmark compares
with.

Written the way a user of BasicSR / Real-ESRGAN would write it, with i2i's srgan defaults: the
RRDB generator (nf 64, 23 blocks, growth 32, nearest + conv upsampling, x4), Real-ESRGAN's U-Net
discriminator with spectral norm (``torch.nn.utils.spectral_norm``, ndf 64), L1 pixel loss x0.01
and relativistic average GAN loss (BCE) x0.005 (no VGG loss: it needs downloaded weights; i2i's
benchmark runs without them too), Adam 1e-4 betas (0.9, 0.99) for both, a generator EMA (0.999).
One step: generator update (discriminator frozen, real logits detached), EMA update, then the
discriminator on reals and detached fakes in one pass — as BasicSR's ``ESRGANModel``.

This file deliberately imports nothing from i2i, only torch and the standard library.

    python benchmarks/plain_srgan.py --size 128 --steps 3
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import spectral_norm


class ResidualDenseBlock(nn.Module):
    def __init__(self, nf: int = 64, gc: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(nf, gc, 3, 1, 1)
        self.conv2 = nn.Conv2d(nf + gc, gc, 3, 1, 1)
        self.conv3 = nn.Conv2d(nf + 2 * gc, gc, 3, 1, 1)
        self.conv4 = nn.Conv2d(nf + 3 * gc, gc, 3, 1, 1)
        self.conv5 = nn.Conv2d(nf + 4 * gc, nf, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    def __init__(self, nf: int, gc: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(nf, gc)
        self.rdb2 = ResidualDenseBlock(nf, gc)
        self.rdb3 = ResidualDenseBlock(nf, gc)

    def forward(self, x: Tensor) -> Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    def __init__(self, nf: int = 64, nb: int = 23, gc: int = 32) -> None:
        super().__init__()
        self.conv_first = nn.Conv2d(3, nf, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(nf, gc) for _ in range(nb)])
        self.conv_body = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_hr = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_last = nn.Conv2d(nf, 3, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))


class UNetDiscriminatorSN(nn.Module):
    def __init__(self, nf: int = 64) -> None:
        super().__init__()
        sn = spectral_norm
        self.conv0 = nn.Conv2d(3, nf, 3, 1, 1)
        self.conv1 = sn(nn.Conv2d(nf, nf * 2, 4, 2, 1, bias=False))
        self.conv2 = sn(nn.Conv2d(nf * 2, nf * 4, 4, 2, 1, bias=False))
        self.conv3 = sn(nn.Conv2d(nf * 4, nf * 8, 4, 2, 1, bias=False))
        self.conv4 = sn(nn.Conv2d(nf * 8, nf * 4, 3, 1, 1, bias=False))
        self.conv5 = sn(nn.Conv2d(nf * 4, nf * 2, 3, 1, 1, bias=False))
        self.conv6 = sn(nn.Conv2d(nf * 2, nf, 3, 1, 1, bias=False))
        self.conv7 = sn(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.conv8 = sn(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(nf, 1, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        def up(t: Tensor) -> Tensor:
            return F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)

        x0 = F.leaky_relu(self.conv0(x), 0.2, inplace=True)
        x1 = F.leaky_relu(self.conv1(x0), 0.2, inplace=True)
        x2 = F.leaky_relu(self.conv2(x1), 0.2, inplace=True)
        x3 = F.leaky_relu(self.conv3(x2), 0.2, inplace=True)
        x4 = F.leaky_relu(self.conv4(up(x3)), 0.2, inplace=True) + x2
        x5 = F.leaky_relu(self.conv5(up(x4)), 0.2, inplace=True) + x1
        x6 = F.leaky_relu(self.conv6(up(x5)), 0.2, inplace=True) + x0
        out = F.leaky_relu(self.conv7(x6), 0.2, inplace=True)
        out = F.leaky_relu(self.conv8(out), 0.2, inplace=True)
        return self.conv9(out)


def bce(x: Tensor, target: float) -> Tensor:
    return F.binary_cross_entropy_with_logits(x, torch.full_like(x, target))


class PlainESRGAN:
    """The recipe in a few dozen lines; ``step(lr, hr)`` runs one GAN-stage step."""

    def __init__(self, device: torch.device | str = "cpu", seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.device = torch.device(device)
        self.net_g = RRDBNet().to(self.device)
        self.net_d = UNetDiscriminatorSN().to(self.device)
        self.net_g_ema = copy.deepcopy(self.net_g).eval()
        for p in self.net_g_ema.parameters():
            p.requires_grad_(False)
        self.opt_g = torch.optim.Adam(self.net_g.parameters(), lr=1e-4, betas=(0.9, 0.99))
        self.opt_d = torch.optim.Adam(self.net_d.parameters(), lr=1e-4, betas=(0.9, 0.99))

    @torch.no_grad()
    def ema(self, decay: float = 0.999) -> None:
        for pe, p in zip(self.net_g_ema.parameters(), self.net_g.parameters(), strict=True):
            pe.mul_(decay).add_(p, alpha=1 - decay)

    def step(self, lr: Tensor, hr: Tensor) -> dict[str, float]:
        # generator
        for p in self.net_d.parameters():
            p.requires_grad_(False)
        self.opt_g.zero_grad()
        output = self.net_g(lr)
        l_pix = F.l1_loss(output, hr) * 0.01
        real_pred = self.net_d(hr).detach()
        fake_pred = self.net_d(output)
        l_gan = (
            (bce(real_pred - fake_pred.mean(), 0.0) + bce(fake_pred - real_pred.mean(), 1.0))
            / 2
            * 0.005
        )
        l_g = l_pix + l_gan
        l_g.backward()
        self.opt_g.step()
        self.ema()
        # discriminator
        for p in self.net_d.parameters():
            p.requires_grad_(True)
        self.opt_d.zero_grad()
        n = hr.shape[0]
        pred = self.net_d(torch.cat([hr, output.detach()]))
        real_pred, fake_pred = pred[:n], pred[n:]
        l_d = (bce(real_pred - fake_pred.mean(), 1.0) + bce(fake_pred - real_pred.mean(), 0.0)) / 2
        l_d.backward()
        self.opt_d.step()
        g, d = torch.stack([l_g.detach(), l_d.detach()]).tolist()
        return {"G": g, "D": d}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", type=int, default=128, help="HR crop size (LR = size / 4)")
    p.add_argument("--steps", type=int, default=3)
    args = p.parse_args()
    model = PlainESRGAN()
    g = torch.Generator().manual_seed(0)
    hr = torch.rand(1, 3, args.size, args.size, generator=g) * 2 - 1
    lr = F.avg_pool2d(hr, 4)
    model.step(lr, hr)
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        model.step(lr, hr)
        times.append(time.perf_counter() - t)
    print(json.dumps({"size": args.size, "sec_per_iter": round(sorted(times)[len(times) // 2], 4)}))


if __name__ == "__main__":
    main()
