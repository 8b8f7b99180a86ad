# Part 1 - DCGAN: one attribute per layer, functional activations, the notebook's (B, 1, 1, 1) output
import torch
import torch.nn as nn
import torch.nn.functional as F

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
        self.conv1 = nn.Conv2d(nc, ndf, kernel_size=4, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(ndf)
        self.conv2 = nn.Conv2d(ndf, 2 * ndf, kernel_size=4, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * ndf)
        self.conv3 = nn.Conv2d(2 * ndf, 4 * ndf, kernel_size=4, stride=2, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * ndf)
        self.conv4 = nn.Conv2d(4 * ndf, 1, kernel_size=4, stride=1, padding=0, bias=False)

    def forward(self, x):
        x = F.leaky_relu(self.bn1(self.conv1(x)), negative_slope=0.2)
        x = F.leaky_relu(self.bn2(self.conv2(x)), negative_slope=0.2)
        x = F.leaky_relu(self.bn3(self.conv3(x)), negative_slope=0.2)
        return torch.sigmoid(self.conv4(x))


class Generator(nn.Module):
    """z (B, nz, 1, 1) -> image (B, nc, 32, 32) in (-1, 1)."""

    def __init__(self, nz=nz, ngf=ngf, nc=nc):
        super().__init__()
        self.deconv1 = nn.ConvTranspose2d(nz, 4 * ngf, kernel_size=4, stride=1, padding=0, bias=False)
        self.bn1 = nn.BatchNorm2d(4 * ngf)
        self.deconv2 = nn.ConvTranspose2d(4 * ngf, 2 * ngf, kernel_size=4, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * ngf)
        self.deconv3 = nn.ConvTranspose2d(2 * ngf, ngf, kernel_size=4, stride=2, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(ngf)
        self.deconv4 = nn.ConvTranspose2d(ngf, nc, kernel_size=4, stride=2, padding=1, bias=False)

    def forward(self, z):
        h = F.relu(self.bn1(self.deconv1(z)))
        h = F.relu(self.bn2(self.deconv2(h)))
        h = F.relu(self.bn3(self.deconv3(h)))
        return torch.tanh(self.deconv4(h))


class Discriminator64(nn.Module):
    """The 64x64 variant: one more conv block at 8*ndf channels."""

    def __init__(self, ndf=ndf, nc=nc):
        super().__init__()
        widths = [nc, ndf, 2 * ndf, 4 * ndf, 8 * ndf]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 4, 2, 1, bias=False) for a, b in zip(widths, widths[1:]))
        self.bns = nn.ModuleList(nn.BatchNorm2d(b) for b in widths[1:])
        self.last = nn.Conv2d(8 * ndf, 1, 4, 1, 0, bias=False)

    def forward(self, x):
        for conv, bn in zip(self.convs, self.bns):
            x = F.leaky_relu(bn(conv(x)), 0.2)
        return torch.sigmoid(self.last(x))


class Generator64(nn.Module):
    """The 64x64 variant: one more transposed-conv block at 8*ngf channels."""

    def __init__(self, nz=nz, ngf=ngf, nc=nc):
        super().__init__()
        self.first = nn.ConvTranspose2d(nz, 8 * ngf, 4, 1, 0, bias=False)
        self.first_bn = nn.BatchNorm2d(8 * ngf)
        widths = [8 * ngf, 4 * ngf, 2 * ngf, ngf]
        self.deconvs = nn.ModuleList(nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False) for a, b in zip(widths, widths[1:]))
        self.bns = nn.ModuleList(nn.BatchNorm2d(b) for b in widths[1:])
        self.last = nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False)

    def forward(self, z):
        h = F.relu(self.first_bn(self.first(z)))
        for deconv, bn in zip(self.deconvs, self.bns):
            h = F.relu(bn(deconv(h)))
        return torch.tanh(self.last(h))


def weights_init(m):
    """DCGAN initialisation: convolutions ~ N(0, 0.02), BatchNorm scale ~ N(1, 0.02), shift 0."""
    if type(m) in (nn.Conv2d, nn.ConvTranspose2d):
        m.weight.data.normal_(0.0, 0.02)
    elif type(m) is nn.BatchNorm2d:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)


def get_noise(batch_size, nz=nz, device="cpu"):
    """The prior P(z) = N(0, I), shaped (B, nz, 1, 1) for the transposed convolutions."""
    return torch.randn((batch_size, nz), device=device).view(batch_size, nz, 1, 1)


def clamped_log(p):
    """log(p) floored at -100; log is never evaluated at 0."""
    floor = torch.tensor(-100.0, dtype=p.dtype, device=p.device)
    return torch.maximum(torch.log(torch.where(p == 0, torch.ones_like(p), p)), floor).masked_fill(p == 0, -100.0)


def bce(probs, targets):
    """Binary cross-entropy, mean over elements; finite (value and gradient) at p = 0 and 1."""
    per_element = targets * clamped_log(probs) + (1 - targets) * clamped_log(1 - probs)
    return -per_element.sum() / per_element.numel()


def d_loss(d_real, d_fake):
    """Equation 7 as a loss to minimise: BCE with target 1 on real, 0 on fake."""
    ones = torch.ones(d_real.shape, device=d_real.device)
    zeros = torch.zeros(d_fake.shape, device=d_fake.device)
    return bce(d_real, ones) + bce(d_fake, zeros)


def g_loss(d_fake):
    """Non-saturating generator loss (equation 6): BCE(D(G(z)), 1) = -E[log D(G(z))]."""
    return bce(d_fake, torch.ones(d_fake.shape, device=d_fake.device))


def g_loss_minimax(d_fake):
    """The "true" minimax generator loss from equation 5: minimise E[log(1 - D(G(z)))]."""
    return clamped_log(1 - d_fake).mean()


def lsgan_d_loss(d_real, d_fake):
    return ((d_real - 1) ** 2).mean() / 2 + (d_fake ** 2).mean() / 2


def lsgan_g_loss(d_fake):
    return ((d_fake - 1) ** 2).mean() / 2


def make_optimizers(netD, netG, lr=lr, betas=betas):
    """Adam for both networks with the course's lr 2e-4 and betas (0.5, 0.999)."""
    optimizerD = torch.optim.Adam(params=netD.parameters(), lr=lr, betas=betas)
    optimizerG = torch.optim.Adam(params=netG.parameters(), lr=lr, betas=betas)
    return optimizerD, optimizerG


def d_step(netD, netG, optimizerD, x_real, nz=nz):
    """One discriminator update on a real batch and as many fakes; G is left untouched."""
    batch_size = len(x_real)
    x_fake = netG(get_noise(batch_size, nz, x_real.device)).detach()
    optimizerD.zero_grad()
    loss = d_loss(netD(x_real), netD(x_fake))
    loss.backward()
    optimizerD.step()
    return loss.detach()


def g_step(netD, netG, optimizerG, batch_size, nz=nz, device="cpu"):
    """One generator update with the non-saturating loss; D's parameters are left untouched."""
    optimizerG.zero_grad()
    x_fake = netG(get_noise(batch_size, nz, device))
    loss = g_loss(netD(x_fake))
    loss.backward()
    optimizerG.step()
    return loss.detach()


def train_step(netD, netG, optimizerD, optimizerG, x_real, nz=nz, nb_update_D=1, nb_update_G=1):
    """One training iteration: nb_update_D discriminator steps, then nb_update_G generator steps."""
    d_losses = [d_step(netD, netG, optimizerD, x_real, nz=nz) for _ in range(nb_update_D)]
    g_losses = [g_step(netD, netG, optimizerG, len(x_real), nz=nz, device=x_real.device) for _ in range(nb_update_G)]
    return d_losses[-1], g_losses[-1]


@torch.no_grad()
def interpolate(netG, z1, z2, n_steps=10):
    """Images G(alpha * z1 + (1 - alpha) * z2) for n_steps values of alpha from 0 to 1."""
    alpha = torch.linspace(0.0, 1.0, steps=n_steps, device=z1.device)[:, None, None, None]
    return netG(torch.lerp(z2, z1, alpha))
