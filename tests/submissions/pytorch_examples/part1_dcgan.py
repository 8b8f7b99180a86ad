"""Style: pytorch/examples' dcgan/main.py. D flattens its output to (B,) (output.view(-1, 1).squeeze(1)),
labels made with torch.full((b,), real_label) of that shape, no reshaping in the steps; explicit
loops, the losses computed by the hand-written bce on the raw outputs."""
import torch
import torch.nn as nn

nz = 100
ndf = 32
ngf = 32
nc = 3
lr = 2e-4
beta1 = 0.5
real_label = 1.0
fake_label = 0.0


class Discriminator(nn.Module):
    def __init__(self, ndf=ndf, nc=nc):
        super().__init__()
        self.main = nn.Sequential(
            # input is (nc) x 32 x 32
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf) x 16 x 16
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*2) x 8 x 8
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*4) x 4 x 4
            nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, input):
        output = self.main(input)
        return output.view(-1, 1).squeeze(1)


class Generator(nn.Module):
    def __init__(self, nz=nz, ngf=ngf, nc=nc):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input):
        return self.main(input)


class Discriminator64(nn.Module):
    def __init__(self, ndf=ndf, nc=nc):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, input):
        return self.main(input).view(-1, 1).squeeze(1)


class Generator64(nn.Module):
    def __init__(self, nz=nz, ngf=ngf, nc=nc):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input):
        return self.main(input)


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find('Conv') != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find('BatchNorm') != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


def get_noise(batch_size, nz=nz, device="cpu"):
    return torch.randn(batch_size, nz, 1, 1, device=device)


def bce(probs, targets):
    eps = 1e-12
    return -(targets * torch.log(probs.clamp(min=eps)) + (1 - targets) * torch.log((1 - probs).clamp(min=eps))).mean()


def d_loss(d_real, d_fake):
    errD_real = bce(d_real, torch.full(d_real.shape, real_label, device=d_real.device))
    errD_fake = bce(d_fake, torch.full(d_fake.shape, fake_label, device=d_fake.device))
    return errD_real + errD_fake


def g_loss(d_fake):
    return bce(d_fake, torch.full(d_fake.shape, real_label, device=d_fake.device))


def g_loss_minimax(d_fake):
    return torch.log((1 - d_fake).clamp(min=1e-12)).mean()


def lsgan_d_loss(d_real, d_fake):
    return 0.5 * torch.mean((d_real - 1) ** 2) + 0.5 * torch.mean(d_fake ** 2)


def lsgan_g_loss(d_fake):
    return 0.5 * torch.mean((d_fake - 1) ** 2)


def make_optimizers(netD, netG, lr=lr, betas=(beta1, 0.999)):
    optimizerD = torch.optim.Adam(netD.parameters(), lr=lr, betas=betas)
    optimizerG = torch.optim.Adam(netG.parameters(), lr=lr, betas=betas)
    return optimizerD, optimizerG


def d_step(netD, netG, optimizerD, x_real, nz=nz):
    # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
    netD.zero_grad()
    batch_size = x_real.size(0)
    label = torch.full((batch_size,), real_label, dtype=x_real.dtype, device=x_real.device)
    output = netD(x_real)
    errD_real = bce(output, label)
    errD_real.backward()
    noise = get_noise(batch_size, nz, x_real.device)
    fake = netG(noise)
    label.fill_(fake_label)
    output = netD(fake.detach())
    errD_fake = bce(output, label)
    errD_fake.backward()
    errD = errD_real + errD_fake
    optimizerD.step()
    return errD.item()


def g_step(netD, netG, optimizerG, batch_size, nz=nz, device="cpu"):
    # (2) Update G network: maximize log(D(G(z)))
    netG.zero_grad()
    label = torch.full((batch_size,), real_label, device=device)
    fake = netG(get_noise(batch_size, nz, device))
    output = netD(fake)
    errG = bce(output, label)
    errG.backward()
    optimizerG.step()
    return errG.item()


def train_step(netD, netG, optimizerD, optimizerG, x_real, nz=nz, nb_update_D=1, nb_update_G=1):
    for _ in range(nb_update_D):
        errD = d_step(netD, netG, optimizerD, x_real, nz)
    for _ in range(nb_update_G):
        errG = g_step(netD, netG, optimizerG, x_real.size(0), nz, x_real.device)
    return errD, errG


@torch.no_grad()
def interpolate(netG, z1, z2, n_steps=10):
    zs = [alpha * z1 + (1 - alpha) * z2 for alpha in torch.linspace(0, 1, n_steps).tolist()]
    return netG(torch.cat(zs))
