"""Plain eager-PyTorch SPADE (GauGAN) training step: the baseline the i2i benchmark compares with.

Written the way a user of NVlabs/SPADE would write it, with that repository's defaults: the
SPADE generator (ngf 64, num_upsampling_layers "normal": 5 upsamplings from the label map
resized to size/32, SPADE hidden 128, kernel 3, parameter-free batch norm — the reference's
SynchronizedBatchNorm2d is plain BatchNorm2d on one device — and ``torch.nn.utils.spectral_norm``
on the residual blocks), the multi-scale discriminator (num_D 2, n_layers 4, ndf 64,
spectral norm + instance norm), hinge loss, feature matching x10, TTUR (Adam G 1e-4, D 4e-4,
betas (0, 0.9)), xavier(0.02) init. No VGG loss (it needs downloaded weights; i2i's benchmark
runs without them too) and no VAE (the default). ``PlainSPADE.step`` runs a generator step,
then a discriminator step on the generator step's fake (detached) — the same recipe as i2i's
plugin, so the benchmark compares implementations, not recipes. ``reuse_fake=False``
(``--regenerate-fake``) regenerates the fake under ``torch.no_grad`` with the updated generator
as the reference ``Pix2PixModel.compute_discriminator_loss`` does (one more generator forward).

This file deliberately imports nothing from i2i, only torch and the standard library.

    python benchmarks/plain_spade.py --size 256 --steps 3
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import AbstractContextManager, nullcontext

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import spectral_norm


class SPADENorm(nn.Module):
    def __init__(self, norm_nc: int, label_nc: int, nhidden: int = 128, ks: int = 3) -> None:
        super().__init__()
        self.param_free_norm = nn.BatchNorm2d(norm_nc, affine=False)
        pw = ks // 2
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_nc, nhidden, ks, padding=pw), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(nhidden, norm_nc, ks, padding=pw)
        self.mlp_beta = nn.Conv2d(nhidden, norm_nc, ks, padding=pw)

    def forward(self, x: Tensor, segmap: Tensor) -> Tensor:
        normalized = self.param_free_norm(x)
        segmap = F.interpolate(segmap, size=x.size()[2:], mode="nearest")
        actv = self.mlp_shared(segmap)
        return normalized * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


class SPADEResnetBlock(nn.Module):
    def __init__(self, fin: int, fout: int, label_nc: int) -> None:
        super().__init__()
        self.learned_shortcut = fin != fout
        fmiddle = min(fin, fout)
        self.conv_0 = spectral_norm(nn.Conv2d(fin, fmiddle, 3, padding=1))
        self.conv_1 = spectral_norm(nn.Conv2d(fmiddle, fout, 3, padding=1))
        if self.learned_shortcut:
            self.conv_s = spectral_norm(nn.Conv2d(fin, fout, 1, bias=False))
            self.norm_s = SPADENorm(fin, label_nc)
        self.norm_0 = SPADENorm(fin, label_nc)
        self.norm_1 = SPADENorm(fmiddle, label_nc)

    def forward(self, x: Tensor, seg: Tensor) -> Tensor:
        x_s = self.conv_s(self.norm_s(x, seg)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, seg), 2e-1))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, seg), 2e-1))
        return x_s + dx


class SPADEGenerator(nn.Module):
    def __init__(self, label_nc: int, ngf: int = 64) -> None:
        super().__init__()
        nf = ngf
        self.fc = nn.Conv2d(label_nc, 16 * nf, 3, padding=1)
        self.head_0 = SPADEResnetBlock(16 * nf, 16 * nf, label_nc)
        self.G_middle_0 = SPADEResnetBlock(16 * nf, 16 * nf, label_nc)
        self.G_middle_1 = SPADEResnetBlock(16 * nf, 16 * nf, label_nc)
        self.up_0 = SPADEResnetBlock(16 * nf, 8 * nf, label_nc)
        self.up_1 = SPADEResnetBlock(8 * nf, 4 * nf, label_nc)
        self.up_2 = SPADEResnetBlock(4 * nf, 2 * nf, label_nc)
        self.up_3 = SPADEResnetBlock(2 * nf, 1 * nf, label_nc)
        self.conv_img = nn.Conv2d(nf, 3, 3, padding=1)
        self.up = nn.Upsample(scale_factor=2)

    def forward(self, seg: Tensor) -> Tensor:
        sh, sw = seg.shape[2] // 32, seg.shape[3] // 32
        x = self.fc(F.interpolate(seg, size=(sh, sw)))
        x = self.head_0(x, seg)
        x = self.up(x)
        x = self.G_middle_0(x, seg)
        x = self.G_middle_1(x, seg)
        x = self.up(x)
        x = self.up_0(x, seg)
        x = self.up(x)
        x = self.up_1(x, seg)
        x = self.up(x)
        x = self.up_2(x, seg)
        x = self.up(x)
        x = self.up_3(x, seg)
        return torch.tanh(self.conv_img(F.leaky_relu(x, 2e-1)))


class NLayerDiscriminator(nn.Module):
    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 4) -> None:
        super().__init__()
        kw, padw = 4, 2
        nf = ndf
        sequence = [[nn.Conv2d(input_nc, nf, kw, 2, padw), nn.LeakyReLU(0.2, False)]]
        for n in range(1, n_layers):
            nf_prev, nf = nf, min(nf * 2, 512)
            stride = 1 if n == n_layers - 1 else 2
            sequence += [[
                spectral_norm(nn.Conv2d(nf_prev, nf, kw, stride, padw, bias=False)),
                nn.InstanceNorm2d(nf, affine=False),
                nn.LeakyReLU(0.2, False),
            ]]  # fmt: skip
        sequence += [[nn.Conv2d(nf, 1, kw, 1, padw)]]
        for n, seq in enumerate(sequence):
            self.add_module("model" + str(n), nn.Sequential(*seq))

    def forward(self, x: Tensor) -> list[Tensor]:
        results = [x]
        for submodel in self.children():
            results.append(submodel(results[-1]))
        return results[1:]


class MultiscaleDiscriminator(nn.Module):
    def __init__(self, input_nc: int, num_D: int = 2) -> None:  # noqa: N803
        super().__init__()
        for i in range(num_D):
            self.add_module(f"discriminator_{i}", NLayerDiscriminator(input_nc))

    def forward(self, x: Tensor) -> list[list[Tensor]]:
        result = []
        for d in self.children():
            result.append(d(x))
            x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
        return result


def hinge(pred: list[list[Tensor]], target_is_real: bool, for_discriminator: bool) -> Tensor:
    loss = 0
    for p in pred:
        x = p[-1]
        if for_discriminator:
            x = -x if target_is_real else x
            loss = loss + torch.mean(torch.clamp(1 + x, min=0))
        else:
            loss = loss - torch.mean(x)
    return loss / len(pred)


def init_xavier(net: nn.Module, gain: float = 0.02) -> None:
    for m in net.modules():
        weight = getattr(m, "weight_orig", getattr(m, "weight", None))
        if isinstance(m, (nn.Conv2d, nn.Linear)) and weight is not None:
            nn.init.xavier_normal_(weight, gain=gain)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0.0)


class PlainSPADE:
    """The reference recipe in a few dozen lines; ``step(label_ids, image)`` runs one step."""

    def __init__(
        self,
        device: torch.device | str = "cpu",
        seed: int = 0,
        label_nc: int = 35,
        reuse_fake: bool = True,
    ) -> None:
        torch.manual_seed(seed)
        self.device = torch.device(device)
        self.label_nc = label_nc
        self.netG = SPADEGenerator(label_nc).to(self.device)
        self.netD = MultiscaleDiscriminator(label_nc + 3).to(self.device)
        init_xavier(self.netG)
        init_xavier(self.netD)
        self.optimizer_G = torch.optim.Adam(self.netG.parameters(), lr=1e-4, betas=(0.0, 0.9))
        self.optimizer_D = torch.optim.Adam(self.netD.parameters(), lr=4e-4, betas=(0.0, 0.9))
        self.lambda_feat = 10.0
        self.reuse_fake = reuse_fake

    def amp(self, dtype: torch.dtype | None) -> AbstractContextManager:
        if dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def preprocess(self, label: Tensor) -> Tensor:
        n, _, h, w = label.size()
        onehot = torch.zeros(n, self.label_nc, h, w, device=label.device)
        return onehot.scatter_(1, label.long(), 1.0)

    def discriminate(self, seg: Tensor, fake: Tensor, real: Tensor) -> tuple[list, list]:
        fake_and_real = torch.cat([torch.cat([seg, fake], 1), torch.cat([seg, real], 1)], 0)
        out = self.netD(fake_and_real)
        pred_fake = [[t[: t.size(0) // 2] for t in p] for p in out]
        pred_real = [[t[t.size(0) // 2 :] for t in p] for p in out]
        return pred_fake, pred_real

    def step(
        self, label: Tensor, real: Tensor, autocast_dtype: torch.dtype | None = None
    ) -> dict[str, float]:
        seg = self.preprocess(label)
        # generator step
        self.optimizer_G.zero_grad()
        with self.amp(autocast_dtype):
            fake = self.netG(seg)
            pred_fake, pred_real = self.discriminate(seg, fake, real)
            g_gan = hinge(pred_fake, True, for_discriminator=False)
            g_feat = 0
            for i in range(len(pred_fake)):
                for j in range(len(pred_fake[i]) - 1):
                    g_feat = g_feat + F.l1_loss(pred_fake[i][j], pred_real[i][j].detach()) * (
                        self.lambda_feat / len(pred_fake)
                    )
            g_loss = g_gan + g_feat
        g_loss.backward()
        self.optimizer_G.step()
        # discriminator step
        self.optimizer_D.zero_grad()
        with self.amp(autocast_dtype):
            if self.reuse_fake:
                fake = fake.detach()
            else:
                with torch.no_grad():
                    fake = self.netG(seg).detach()
            pred_fake, pred_real = self.discriminate(seg, fake, real)
            d_loss = hinge(pred_fake, False, True) + hinge(pred_real, True, True)
        d_loss.backward()
        self.optimizer_D.step()
        g, d = torch.stack([g_loss.detach().float(), d_loss.detach().float()]).tolist()
        return {"G": g, "D": d}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--label-nc", type=int, default=35)
    p.add_argument("--regenerate-fake", action="store_true", help="the reference's D-step order")
    args = p.parse_args()
    model = PlainSPADE(label_nc=args.label_nc, reuse_fake=not args.regenerate_fake)
    g = torch.Generator().manual_seed(0)
    label = torch.randint(0, args.label_nc, (1, 1, args.size // 16, args.size // 16), generator=g)
    label = label.repeat_interleave(16, 2).repeat_interleave(16, 3)
    real = torch.rand(1, 3, args.size, args.size, generator=g) * 2 - 1
    model.step(label, real)
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        model.step(label, real)
        times.append(time.perf_counter() - t)
    print(json.dumps({"size": args.size, "sec_per_iter": round(sorted(times)[len(times) // 2], 4)}))


if __name__ == "__main__":
    main()
