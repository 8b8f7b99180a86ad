# Part 1 - DCGAN, written after pytorch/examples dcgan/main.py
import torch
import torch.nn as nn

nz = 100
ndf = 32
ngf = 32
nc = 3
lr = 2e-4
betas = (0.5, 0.999)

real_label = 1.
fake_label = 0.


class Discriminator(nn.Module):
    """32x32 image -> probability of being real, shaped (B,)."""

    def __init__(self, ndf=ndf, nc=nc):
        super(Discriminator, self).__init__()
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
            nn.Sigmoid()
        )

    def forward(self, input):
        output = self.main(input)
        return output.view(-1, 1).squeeze(1)


class Generator(nn.Module):
    def __init__(self, nz=nz, ngf=ngf, nc=nc):
        super(Generator, self).__init__()
        self.main = nn.Sequential(
            # input is Z, going into a convolution
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            # state size. (ngf*4) x 4 x 4
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            # state size. (ngf*2) x 8 x 8
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            # state size. (ngf) x 16 x 16
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh()
            # state size. (nc) x 32 x 32
        )

    def forward(self, input):
        output = self.main(input)
        return output


class Discriminator64(nn.Module):
    def __init__(self, ndf=ndf, nc=nc):
        super(Discriminator64, self).__init__()
        self.main = nn.Sequential(
            # input is (nc) x 64 x 64
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf) x 32 x 32
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*2) x 16 x 16
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*4) x 8 x 8
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*8) x 4 x 4
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid()
        )

    def forward(self, input):
        output = self.main(input)
        return output.view(-1, 1).squeeze(1)


class Generator64(nn.Module):
    def __init__(self, nz=nz, ngf=ngf, nc=nc):
        super(Generator64, self).__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            # state size. (ngf*8) x 4 x 4
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            # state size. (ngf*4) x 8 x 8
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            # state size. (ngf*2) x 16 x 16
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            # state size. (ngf) x 32 x 32
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh()
            # state size. (nc) x 64 x 64
        )

    def forward(self, input):
        return self.main(input)


# custom weights initialization called on netG and netD
def weights_init(m):
    classname = m.__class__.__name__
    if classname.find('Conv') != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find('BatchNorm') != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


def get_noise(batch_size, nz=nz, device="cpu"):
    return torch.randn(batch_size, nz, 1, 1, device=device)


def clamped_log(p):
    safe = torch.where(p > 0, p, torch.ones_like(p))
    return torch.where(p > 0, torch.log(safe).clamp(min=-100), torch.full_like(p, -100.))


def bce(probs, targets):
    return -(targets * clamped_log(probs) + (1 - targets) * clamped_log(1 - probs)).mean()


criterion = nn.BCELoss()


def d_loss(d_real, d_fake):
    b_size = d_real.size(0)
    label = torch.full((b_size,), real_label, dtype=torch.float, device=d_real.device)
    errD_real = criterion(d_real, label)
    label = torch.full((d_fake.size(0),), fake_label, dtype=torch.float, device=d_fake.device)
    errD_fake = criterion(d_fake, label)
    return errD_real + errD_fake


def g_loss(d_fake):
    label = torch.full((d_fake.size(0),), real_label, dtype=torch.float, device=d_fake.device)
    return criterion(d_fake, label)


def g_loss_minimax(d_fake):
    label = torch.full((d_fake.size(0),), fake_label, dtype=torch.float, device=d_fake.device)
    return -criterion(d_fake, label)


def lsgan_d_loss(d_real, d_fake):
    return 0.5 * torch.mean((d_real - 1) ** 2) + 0.5 * torch.mean(d_fake ** 2)


def lsgan_g_loss(d_fake):
    return 0.5 * torch.mean((d_fake - 1) ** 2)


def make_optimizers(netD, netG, lr=lr, betas=betas):
    optimizerD = torch.optim.Adam(netD.parameters(), lr=lr, betas=betas)
    optimizerG = torch.optim.Adam(netG.parameters(), lr=lr, betas=betas)
    return optimizerD, optimizerG


def d_step(netD, netG, optimizerD, x_real, nz=nz):
    ############################
    # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
    ###########################
    netD.zero_grad()
    b_size = x_real.size(0)
    output_real = netD(x_real)
    noise = get_noise(b_size, nz, x_real.device)
    fake = netG(noise)
    output_fake = netD(fake.detach())
    errD = d_loss(output_real, output_fake)
    errD.backward()
    optimizerD.step()
    return errD.detach()


def g_step(netD, netG, optimizerG, batch_size, nz=nz, device="cpu"):
    ############################
    # (2) Update G network: maximize log(D(G(z)))
    ###########################
    netG.zero_grad()
    noise = get_noise(batch_size, nz, device)
    fake = netG(noise)
    output = netD(fake)
    errG = g_loss(output)
    errG.backward()
    optimizerG.step()
    return errG.detach()


def train_step(netD, netG, optimizerD, optimizerG, x_real, nz=nz, nb_update_D=1, nb_update_G=1):
    for _ in range(nb_update_D):
        errD = d_step(netD, netG, optimizerD, x_real, nz)
    for _ in range(nb_update_G):
        errG = g_step(netD, netG, optimizerG, x_real.size(0), nz, x_real.device)
    return errD, errG


@torch.no_grad()
def interpolate(netG, z1, z2, n_steps=10):
    alphas = torch.linspace(0, 1, n_steps, device=z1.device).view(-1, 1, 1, 1)
    z = alphas * z1 + (1 - alphas) * z2
    return netG(z)
