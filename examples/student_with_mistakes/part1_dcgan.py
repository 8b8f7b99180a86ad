"""Part 1 - DCGAN (seed 001, section 1): the reference answers.

Names follow the course notebook: ``Discriminator``/``Generator``, ``netD``/``netG``, ``nz``,
``ndf``, ``ngf``, ``get_noise``, ``weights_init``, ``nb_update_D``/``nb_update_G``.
A student's notebook for this part must define the same names with the same signatures.
"""
import torch
import torch.nn as nn

nz = 100
ndf = 32
ngf = 32
nc = 3
lr = 2e-4
betas = (0.5, 0.999)


class Discriminator(nn.Module):
    """32x32 image -> probability of being real, shaped (B, 1, 1, 1)."""

    def __init__(self, ndf=ndf, nc=nc):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf),
            nn.LeakyReLU(0.2),
            nn.Conv2d(ndf, ndf * 2, 4, 1, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2),
            nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.main(x)


class Generator(nn.Module):
    """z (B, nz, 1, 1) -> image (B, nc, 32, 32) in (-1, 1)."""

    def __init__(self, nz=nz, ngf=ngf, nc=nc):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.main(z)


class Discriminator64(nn.Module):
    """The 64x64 variant: one more conv block at 8*ndf channels."""

    def __init__(self, ndf=ndf, nc=nc):
        super().__init__()
        layers = []
        channels = [nc, ndf, ndf * 2, ndf * 4, ndf * 8]
        for c_in, c_out in zip(channels, channels[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
        layers += [nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid()]
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        return self.main(x)


class Generator64(nn.Module):
    """The 64x64 variant: one more transposed-conv block at 8*ngf channels."""

    def __init__(self, nz=nz, ngf=ngf, nc=nc):
        super().__init__()
        layers = [nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU()]
        channels = [ngf * 8, ngf * 4, ngf * 2, ngf]
        for c_in, c_out in zip(channels, channels[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
        layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z):
        return self.main(z)


def weights_init(m):
    """DCGAN initialisation: convolutions ~ N(0, 0.02), BatchNorm scale ~ N(1, 0.02), shift 0."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def get_noise(batch_size, nz=nz, device="cpu"):
    """The prior P(z) = N(0, I), shaped (B, nz, 1, 1) for the transposed convolutions."""
    return torch.randn(batch_size, nz, 1, 1, device=device)


def clamped_log(p):
    """log(p) floored at -100 as torch's BCE does; at p = 0 the log is never evaluated, so the
    gradient stays finite too (clamping log(0) = -inf afterwards would back-propagate NaN)."""
    positive = p > 0
    return torch.where(positive, torch.log(torch.where(positive, p, torch.ones_like(p))).clamp(min=-100),
                       torch.full_like(p, -100.0))


def bce(probs, targets):
    """Binary cross-entropy, mean over elements; finite (value and gradient) at p = 0 and 1."""
    return -(targets * clamped_log(probs) + (1 - targets) * clamped_log(1 - probs)).mean()


def d_loss(d_real, d_fake):
    """Equation 7 as a loss to minimise: BCE with target 1 on real, 0 on fake."""
    return bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))


def g_loss(d_fake):
    """Non-saturating generator loss (equation 6): BCE(D(G(z)), 1) = -E[log D(G(z))]."""
    return bce(d_fake, torch.ones_like(d_fake))


def g_loss_minimax(d_fake):
    """The "true" minimax generator loss from equation 5: minimise E[log(1 - D(G(z)))]."""
    return -bce(d_fake, torch.zeros_like(d_fake))


def lsgan_d_loss(d_real, d_fake):
    """LSGAN (Mao et al.) discriminator loss on raw scores: 1/2 E[(D(x)-1)^2] + 1/2 E[D(G(z))^2]."""
    return 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * (d_fake ** 2).mean()


def lsgan_g_loss(d_fake):
    """LSGAN generator loss: 1/2 E[(D(G(z)) - 1)^2] (the slide's 1/2 E[D(G(z))^2] is wrong)."""
    return 0.5 * ((d_fake - 1) ** 2).mean()


def make_optimizers(netD, netG, lr=lr, betas=betas):
    """Adam for both networks with the course's lr 2e-4 and betas (0.5, 0.999)."""
    optimizerD = torch.optim.Adam(netD.parameters(), lr=lr, betas=betas)
    optimizerG = torch.optim.Adam(netG.parameters(), lr=lr, betas=betas)
    return optimizerD, optimizerG


def d_step(netD, netG, optimizerD, x_real, nz=nz):
    """One discriminator update on a real batch and as many fakes; G is left untouched."""
    optimizerD.zero_grad()
    z = get_noise(x_real.size(0), nz, x_real.device)
    x_fake = netG(z)
    loss = d_loss(netD(x_real), netD(x_fake))
    loss.backward()
    optimizerD.step()
    return loss.detach()


def g_step(netD, netG, optimizerG, batch_size, nz=nz, device="cpu"):
    """One generator update with the non-saturating loss; D's parameters are left untouched."""
    optimizerG.zero_grad()
    z = get_noise(batch_size, nz, device)
    loss = g_loss(netD(netG(z)))
    loss.backward()
    optimizerG.step()
    return loss.detach()


def train_step(netD, netG, optimizerD, optimizerG, x_real, nz=nz, nb_update_D=1, nb_update_G=1):
    """One training iteration: nb_update_D discriminator steps, then nb_update_G generator steps."""
    for _ in range(nb_update_D):
        loss_d = d_step(netD, netG, optimizerD, x_real, nz)
    for _ in range(nb_update_G):
        loss_g = g_step(netD, netG, optimizerG, x_real.size(0), nz, x_real.device)
    return loss_d, loss_g


@torch.no_grad()
def interpolate(netG, z1, z2, n_steps=10):
    """Images G(alpha * z1 + (1 - alpha) * z2) for n_steps values of alpha from 0 to 1."""
    # YOUR CODE HERE
    raise NotImplementedError()
