"""Style: layers made by helper functions in loops (nn.ModuleList), the 64x64 variants as
subclasses, hand-written BCE with an epsilon, one BCE over real and fake scores with concatenated
targets. (Real and fake images go through D in separate calls: one call on torch.cat([x_real, fake])
would let D's BatchNorm statistics of the mixed batch give the fakes away, and G then learns nothing.)"""
import torch
import torch.nn as nn

nz, ndf, ngf, nc = 100, 32, 32, 3
EPS = 1e-12


def down(c_in, c_out, stride=2, padding=1, batch_norm=True, last=False):
    """Conv2d(k4, no bias) [+ BatchNorm2d] + LeakyReLU(0.2), or + Sigmoid for the last layer."""
    layers = [nn.Conv2d(c_in, c_out, 4, stride, padding, bias=False)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.Sigmoid() if last else nn.LeakyReLU(negative_slope=0.2))
    return nn.Sequential(*layers)


def up(c_in, c_out, stride=2, padding=1, last=False):
    """ConvTranspose2d(k4, no bias) + BatchNorm2d + ReLU, or + Tanh for the last layer."""
    if last:
        return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, stride, padding, bias=False), nn.Tanh())
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, stride, padding, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU())


class Discriminator(nn.Module):
    n_blocks = 3

    def __init__(self, ndf=ndf, nc=nc):
        super().__init__()
        widths = [nc] + [ndf * 2 ** i for i in range(self.n_blocks)]
        self.blocks = nn.ModuleList([down(a, b) for a, b in zip(widths[:-1], widths[1:])])
        self.head = down(widths[-1], 1, stride=1, padding=0, batch_norm=False, last=True)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class Generator(nn.Module):
    n_blocks = 3

    def __init__(self, nz=nz, ngf=ngf, nc=nc):
        super().__init__()
        widths = [ngf * 2 ** i for i in reversed(range(self.n_blocks))]
        layers = [up(nz, widths[0], stride=1, padding=0)]
        layers += [up(a, b) for a, b in zip(widths[:-1], widths[1:])]
        layers.append(up(widths[-1], nc, last=True))
        self.layers = nn.ModuleList(layers)

    def forward(self, z):
        out = z
        for layer in self.layers:
            out = layer(out)
        return out


class Discriminator64(Discriminator):
    n_blocks = 4


class Generator64(Generator):
    n_blocks = 4


def weights_init(m):
    if isinstance(m, nn.modules.conv._ConvNd):
        nn.init.normal_(m.weight, mean=0.0, std=0.02)
    elif isinstance(m, nn.modules.batchnorm._BatchNorm):
        nn.init.normal_(m.weight, mean=1.0, std=0.02)
        nn.init.constant_(m.bias, 0.0)


def get_noise(batch_size, nz=nz, device="cpu"):
    return torch.normal(0.0, 1.0, size=(batch_size, nz, 1, 1), device=device)


def bce(probs, targets):
    return -(targets * torch.log(probs + EPS) + (1 - targets) * torch.log(1 - probs + EPS)).mean()


def d_loss(d_real, d_fake):
    scores = torch.cat([d_real.flatten(), d_fake.flatten()])
    targets = torch.cat([torch.ones(d_real.numel()), torch.zeros(d_fake.numel())]).to(scores)
    return bce(scores, targets)  # the mean over real and fake: half of the sum of the two BCEs


def g_loss(d_fake):
    return -torch.log(d_fake + EPS).mean()


def g_loss_minimax(d_fake):
    return bce(d_fake, torch.zeros_like(d_fake)).neg()


def lsgan_d_loss(d_real, d_fake):
    return ((d_real - 1).pow(2).mean() + d_fake.pow(2).mean()) / 2


def lsgan_g_loss(d_fake):
    return (d_fake - 1).pow(2).mean() / 2


def make_optimizers(netD, netG, lr=2e-4, betas=(0.5, 0.999)):
    return [torch.optim.Adam(net.parameters(), lr=lr, betas=betas) for net in (netD, netG)]


def d_step(netD, netG, optimizerD, x_real, nz=nz):
    b = x_real.shape[0]
    fake = netG(get_noise(b, nz, x_real.device)).detach()
    optimizerD.zero_grad(set_to_none=True)
    scores = torch.cat([netD(x_real).reshape(-1), netD(fake).reshape(-1)])
    targets = torch.cat([torch.ones(b), torch.zeros(b)]).to(scores)
    loss = bce(scores, targets)
    loss.backward()
    optimizerD.step()
    return loss.detach()


def g_step(netD, netG, optimizerG, batch_size, nz=nz, device="cpu"):
    optimizerG.zero_grad(set_to_none=True)
    loss = g_loss(netD(netG(get_noise(batch_size, nz, device))))
    loss.backward()
    optimizerG.step()
    return loss.detach()


def train_step(netD, netG, optimizerD, optimizerG, x_real, nz=nz, nb_update_D=1, nb_update_G=1):
    losses = {"D": None, "G": None}
    for k in range(nb_update_D + nb_update_G):
        if k < nb_update_D:
            losses["D"] = d_step(netD, netG, optimizerD, x_real, nz)
        else:
            losses["G"] = g_step(netD, netG, optimizerG, len(x_real), nz, x_real.device)
    return losses["D"], losses["G"]


@torch.no_grad()
def interpolate(netG, z1, z2, n_steps=10):
    alphas = torch.linspace(0, 1, n_steps).view(n_steps, 1, 1, 1)
    zs = torch.lerp(z2.expand(n_steps, -1, -1, -1), z1.expand(n_steps, -1, -1, -1), alphas)
    return netG(zs)
