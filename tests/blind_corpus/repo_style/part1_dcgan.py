# Part 1 - DCGAN (style of common GitHub GAN repos: isinstance init, F.binary_cross_entropy, (B, 1) outputs)
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Normal

nz = 100
ndf = 32
ngf = 32
nc = 3
lr = 2e-4
betas = (0.5, 0.999)


def conv_block(in_c, out_c, k=4, s=2, p=1):
    return [nn.Conv2d(in_c, out_c, k, s, p, bias=False), nn.BatchNorm2d(out_c), nn.LeakyReLU(0.2)]


def deconv_block(in_c, out_c, k=4, s=2, p=1):
    return [nn.ConvTranspose2d(in_c, out_c, k, s, p, bias=False), nn.BatchNorm2d(out_c), nn.ReLU()]


class Discriminator(nn.Module):
    def __init__(self, ndf=ndf, nc=nc):
        super().__init__()
        self.model = nn.Sequential(
            *conv_block(nc, ndf),
            *conv_block(ndf, ndf * 2),
            *conv_block(ndf * 2, ndf * 4),
            nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, img):
        validity = self.model(img)
        return validity.view(-1, 1)


class Generator(nn.Module):
    def __init__(self, nz=nz, ngf=ngf, nc=nc):
        super().__init__()
        self.model = nn.Sequential(
            *deconv_block(nz, ngf * 4, 4, 1, 0),
            *deconv_block(ngf * 4, ngf * 2),
            *deconv_block(ngf * 2, ngf),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.model(z)


class Discriminator64(nn.Module):
    def __init__(self, ndf=ndf, nc=nc):
        super().__init__()
        self.model = nn.Sequential(
            *conv_block(nc, ndf),
            *conv_block(ndf, ndf * 2),
            *conv_block(ndf * 2, ndf * 4),
            *conv_block(ndf * 4, ndf * 8),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, img):
        return self.model(img).view(-1, 1)


class Generator64(nn.Module):
    def __init__(self, nz=nz, ngf=ngf, nc=nc):
        super().__init__()
        self.model = nn.Sequential(
            *deconv_block(nz, ngf * 8, 4, 1, 0),
            *deconv_block(ngf * 8, ngf * 4),
            *deconv_block(ngf * 4, ngf * 2),
            *deconv_block(ngf * 2, ngf),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.model(z)


def weights_init(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, mean=0.0, std=0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, mean=1.0, std=0.02)
        nn.init.constant_(m.bias, 0.0)


def get_noise(batch_size, nz=nz, device="cpu"):
    prior = Normal(torch.tensor(0.0, device=device), torch.tensor(1.0, device=device))
    return prior.sample((batch_size, nz, 1, 1))


def clamped_log(p):
    out = torch.full_like(p, -100.0)
    positive = p > 0
    out[positive] = torch.log(p[positive]).clamp(min=-100)
    return out


def bce(probs, targets):
    loss = targets * clamped_log(probs) + (1.0 - targets) * clamped_log(1.0 - probs)
    return -torch.mean(loss)


def d_loss(d_real, d_fake):
    real_loss = F.binary_cross_entropy(d_real, torch.ones_like(d_real))
    fake_loss = F.binary_cross_entropy(d_fake, torch.zeros_like(d_fake))
    return real_loss + fake_loss


def g_loss(d_fake):
    return F.binary_cross_entropy(d_fake, torch.ones_like(d_fake))


def g_loss_minimax(d_fake):
    return torch.mean(clamped_log(1 - d_fake))


def lsgan_d_loss(d_real, d_fake):
    return 0.5 * F.mse_loss(d_real, torch.ones_like(d_real)) + 0.5 * F.mse_loss(d_fake, torch.zeros_like(d_fake))


def lsgan_g_loss(d_fake):
    return 0.5 * F.mse_loss(d_fake, torch.ones_like(d_fake))


def make_optimizers(netD, netG, lr=lr, betas=betas):
    opt_D = torch.optim.Adam(netD.parameters(), lr=lr, betas=betas)
    opt_G = torch.optim.Adam(netG.parameters(), lr=lr, betas=betas)
    return opt_D, opt_G


def d_step(netD, netG, optimizerD, x_real, nz=nz):
    z = get_noise(x_real.shape[0], nz, x_real.device)
    with torch.no_grad():
        gen_imgs = netG(z)
    optimizerD.zero_grad()
    loss = d_loss(netD(x_real), netD(gen_imgs.detach()))
    loss.backward()
    optimizerD.step()
    return loss.detach()


def g_step(netD, netG, optimizerG, batch_size, nz=nz, device="cpu"):
    optimizerG.zero_grad()
    z = get_noise(batch_size, nz, device)
    gen_imgs = netG(z)
    loss = g_loss(netD(gen_imgs))
    loss.backward()
    optimizerG.step()
    return loss.detach()


def train_step(netD, netG, optimizerD, optimizerG, x_real, nz=nz, nb_update_D=1, nb_update_G=1):
    loss_d = loss_g = None
    for _ in range(nb_update_D):
        loss_d = d_step(netD, netG, optimizerD, x_real, nz=nz)
    for _ in range(nb_update_G):
        loss_g = g_step(netD, netG, optimizerG, x_real.shape[0], nz=nz, device=x_real.device)
    return loss_d, loss_g


@torch.no_grad()
def interpolate(netG, z1, z2, n_steps=10):
    zs = [alpha * z1 + (1 - alpha) * z2 for alpha in torch.linspace(0, 1, n_steps).tolist()]
    return netG(torch.cat(zs, dim=0))
