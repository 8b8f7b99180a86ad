"""Red team: a wrong answer with one NaN in it passes the judges that test "too far" as `x > tol`.

Comparisons with NaN are False. autograder/checks/misc.py's weights_init judge fails a layer only
when `abs(mean) > 0.002 or abs(std - 0.02) > 0.001`, when `abs(kurtosis) > 0.2`, or when
`b.abs().max() > 0`; autograder/checks/prior.py's judge fails the prior when
`chi2.sf(...) < ALPHA` or `ks.pvalue < ALPHA`. A single NaN makes every one of those statistics
NaN, so every comparison is False and the check passes:

* `weights_init` below is PyTorch's default (uniform) initialisation, wrong for DCGAN (and the
  BatchNorm shifts are set to 0.5), with one weight (and one shift) set to NaN;
* `get_noise` below draws U(0, 1) (torch.rand, the prior's classic mistake) with one NaN per call.

The guarantee (docs/batch.md, "What the sandbox guarantees": "To pass, the evidence must be what a
correct submission produces on inputs drawn at grading time"): dcgan.weights_init and dcgan.prior
fail.
"""
import torch
import torch.nn as nn

from reference.part1_dcgan import *  # noqa: F401,F403


def weights_init(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d)):
        m.reset_parameters()  # wrong: PyTorch's default init, not N(0, 0.02) / N(1, 0.02)
        with torch.no_grad():
            if m.bias is not None and isinstance(m, nn.BatchNorm2d):
                m.bias.fill_(0.5)  # wrong: the shifts are 0
                m.bias.view(-1)[0] = float("nan")
            m.weight.view(-1)[0] = float("nan")


def get_noise(batch_size, nz=100, device="cpu"):
    z = torch.rand(batch_size, nz, 1, 1, device=device)  # wrong: U(0, 1), not N(0, I)
    z.view(-1)[0] = float("nan")
    return z
