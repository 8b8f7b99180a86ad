"""Part 2 - conditional GANs on MNIST (seed 001, sections 2.2 and 2.3): the reference answers.

Images are (B, 1, 32, 32) in [-1, 1]; labels are one-hot, shaped (B, 10, 1, 1) by ``onehot``;
z is (B, nz, 1, 1). The fully connected models flatten what they are given.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

nz = 100
n_classes = 10
lr = 2e-4
betas = (0.5, 0.999)


def onehot(labels, n_classes=n_classes):
    """Integer labels (B,) -> one-hot float tensor (B, n_classes, 1, 1)."""
    return F.one_hot(labels.long(), n_classes).float()


def get_noise(batch_size, nz=nz, device="cpu"):
    """The prior P(z) = N(0, I), shaped (B, nz, 1, 1)."""
    return torch.randn(batch_size, nz, 1, 1, device=device)


def weights_init(m):
    """DCGAN initialisation: convolutions ~ N(0, 0.02), BatchNorm scale ~ N(1, 0.02), shift 0."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class cDCGANDiscriminator(nn.Module):
    """(x (B, 1, 32, 32), y (B, 10, 1, 1)) -> probability that x is a real image of class y."""

    def __init__(self):
        super().__init__()
        self.x_branch = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2))
        self.y_branch = nn.Sequential(nn.Conv2d(n_classes, 64, 4, 2, 1), nn.LeakyReLU(0.2))
        self.main = nn.Sequential(
            nn.Conv2d(128, 256, 4, 2, 1, bias=False),
            nn.BatchNorm2d(256),
            nn.LeakyReLU(0.2),
            nn.Conv2d(256, 512, 4, 2, 1, bias=False),
            nn.BatchNorm2d(512),
            nn.LeakyReLU(0.2),
            nn.Conv2d(512, 1, 4, 1, 0),
            nn.Sigmoid(),
        )

    def forward(self, x, y):
        y_map = y.view(-1, n_classes, 1, 1).expand(-1, -1, x.size(2), x.size(3))
        return self.main(torch.cat([self.x_branch(x), self.y_branch(y_map)], dim=1))


class cDCGANGenerator(nn.Module):
    """(z (B, nz, 1, 1), y (B, 10, 1, 1)) -> image of class y, (B, 1, 32, 32) in (-1, 1)."""

    def __init__(self, nz=nz):
        super().__init__()
        self.z_branch = nn.Sequential(nn.ConvTranspose2d(nz, 256, 4, 1, 0, bias=False), nn.BatchNorm2d(256), nn.ReLU())
        self.y_branch = nn.Sequential(
            nn.ConvTranspose2d(n_classes, 256, 4, 1, 0, bias=False), nn.BatchNorm2d(256), nn.ReLU()
        )
        self.main = nn.Sequential(
            nn.ConvTranspose2d(512, 256, 4, 2, 1, bias=False),
            nn.BatchNorm2d(256),
            nn.ReLU(),
            nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(),
            nn.ConvTranspose2d(128, 1, 4, 2, 1),
            nn.Tanh(),
        )

    def forward(self, z, y):
        z = z.view(z.size(0), -1, 1, 1)
        y = y.view(y.size(0), n_classes, 1, 1)
        return self.main(torch.cat([self.z_branch(z), self.y_branch(y)], dim=1))


class cGANDiscriminator(nn.Module):
    """Fully connected: (x flattened to 1024, y one-hot 10) -> probability, (B, 1)."""

    def __init__(self):
        super().__init__()
        self.x_branch = nn.Sequential(nn.Linear(1024, 1024), nn.LeakyReLU(0.2))
        self.y_branch = nn.Sequential(nn.Linear(n_classes, 1024), nn.LeakyReLU(0.2))
        self.main = nn.Sequential(
            nn.Linear(2048, 1024, bias=False),
            nn.BatchNorm1d(1024),
            nn.LeakyReLU(0.2),
            nn.Linear(1024, 512, bias=False),
            nn.BatchNorm1d(512),
            nn.LeakyReLU(0.2),
            nn.Linear(512, 1),
            nn.Sigmoid(),
        )

    def forward(self, x, y):
        x = x.view(x.size(0), -1)
        y = y.view(y.size(0), -1)
        return self.main(torch.cat([self.x_branch(x), self.y_branch(y)], dim=1))


class cGANGenerator(nn.Module):
    """Fully connected: (z, y) -> image seen as (B, 1, 32, 32) in (-1, 1)."""

    def __init__(self, nz=nz):
        super().__init__()
        self.z_branch = nn.Sequential(nn.Linear(nz, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU())
        self.y_branch = nn.Sequential(nn.Linear(n_classes, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU())
        self.main = nn.Sequential(
            nn.Linear(512, 512, bias=False),
            nn.BatchNorm1d(512),
            nn.ReLU(),
            nn.Linear(512, 1024, bias=False),
            nn.BatchNorm1d(1024),
            nn.ReLU(),
            nn.Linear(1024, 1024),
            nn.Tanh(),
        )

    def forward(self, z, y):
        z = z.view(z.size(0), -1)
        y = y.view(y.size(0), -1)
        return self.main(torch.cat([self.z_branch(z), self.y_branch(y)], dim=1)).view(-1, 1, 32, 32)


def make_optimizers(netD, netG, lr=lr, betas=betas):
    """Adam for both networks with the course's lr 2e-4 and betas (0.5, 0.999)."""
    optimizerD = torch.optim.Adam(netD.parameters(), lr=lr, betas=betas)
    optimizerG = torch.optim.Adam(netG.parameters(), lr=lr, betas=betas)
    return optimizerD, optimizerG


def d_step(netD, netG, optimizerD, x_real, y_real, nz=nz):
    """One D update (question 6): real images judged with their own labels, fakes with the
    labels they were generated from; the fakes are detached so G is left untouched."""
    optimizerD.zero_grad()
    d_real = netD(x_real, y_real)
    z = get_noise(x_real.size(0), nz, x_real.device)
    x_fake = netG(z, y_real).detach()
    d_fake = netD(x_fake, y_real)
    loss = F.binary_cross_entropy(d_real, torch.ones_like(d_real)) + F.binary_cross_entropy(
        d_fake, torch.zeros_like(d_fake)
    )
    loss.backward()
    optimizerD.step()
    return loss.detach()


def g_step(netD, netG, optimizerG, y, nz=nz):
    """One G update with the non-saturating loss; D judges each fake with the label it was made for."""
    optimizerG.zero_grad()
    z = get_noise(y.size(0), nz, y.device)
    d_fake = netD(netG(z, y), y)
    loss = F.binary_cross_entropy(d_fake, torch.ones_like(d_fake))
    loss.backward()
    optimizerG.step()
    return loss.detach()


def train_step(netD, netG, optimizerD, optimizerG, x_real, y_real, nz=nz, nb_update_D=1, nb_update_G=1):
    """One training iteration: nb_update_D D steps, then nb_update_G G steps with the batch's labels."""
    for _ in range(nb_update_D):
        loss_d = d_step(netD, netG, optimizerD, x_real, y_real, nz)
    for _ in range(nb_update_G):
        loss_g = g_step(netD, netG, optimizerG, y_real, nz)
    return loss_d, loss_g
