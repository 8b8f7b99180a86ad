# Part 2 - conditional GANs, after the PyTorch DCGAN tutorial
import torch
import torch.nn as nn
import torch.nn.functional as F

nz = 100
n_classes = 10
lr = 2e-4
betas = (0.5, 0.999)

real_label = 1.
fake_label = 0.


def onehot(labels, n_classes=n_classes):
    return F.one_hot(labels.long(), n_classes).float().view(-1, n_classes, 1, 1)


def get_noise(batch_size, nz=nz, device="cpu"):
    return torch.randn(batch_size, nz, 1, 1, device=device)


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find('Conv') != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find('BatchNorm') != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


class cDCGANDiscriminator(nn.Module):
    def __init__(self):
        super(cDCGANDiscriminator, self).__init__()
        self.x_branch = nn.Sequential(
            nn.Conv2d(1, 64, 4, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
        )
        self.y_branch = nn.Sequential(
            nn.Conv2d(10, 64, 4, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
        )
        self.main = nn.Sequential(
            nn.Conv2d(128, 256, 4, 2, 1, bias=False),
            nn.BatchNorm2d(256),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(256, 512, 4, 2, 1, bias=False),
            nn.BatchNorm2d(512),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(512, 1, 4, 1, 0),
            nn.Sigmoid()
        )

    def forward(self, x, y):
        y_fill = y.expand(-1, -1, x.size(2), x.size(3))
        h = torch.cat([self.x_branch(x), self.y_branch(y_fill)], 1)
        return self.main(h)


class cDCGANGenerator(nn.Module):
    def __init__(self, nz=nz):
        super(cDCGANGenerator, self).__init__()
        self.z_branch = nn.Sequential(
            nn.ConvTranspose2d(nz, 256, 4, 1, 0, bias=False),
            nn.BatchNorm2d(256),
            nn.ReLU(True),
        )
        self.y_branch = nn.Sequential(
            nn.ConvTranspose2d(10, 256, 4, 1, 0, bias=False),
            nn.BatchNorm2d(256),
            nn.ReLU(True),
        )
        self.main = nn.Sequential(
            nn.ConvTranspose2d(512, 256, 4, 2, 1, bias=False),
            nn.BatchNorm2d(256),
            nn.ReLU(True),
            nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(True),
            nn.ConvTranspose2d(128, 1, 4, 2, 1),
            nn.Tanh()
        )

    def forward(self, z, y):
        return self.main(torch.cat([self.z_branch(z), self.y_branch(y)], 1))


class cGANDiscriminator(nn.Module):
    def __init__(self):
        super(cGANDiscriminator, self).__init__()
        self.x_branch = nn.Sequential(nn.Linear(1024, 1024), nn.LeakyReLU(0.2, inplace=True))
        self.y_branch = nn.Sequential(nn.Linear(10, 1024), nn.LeakyReLU(0.2, inplace=True))
        self.main = nn.Sequential(
            nn.Linear(2048, 1024, bias=False),
            nn.BatchNorm1d(1024),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(1024, 512, bias=False),
            nn.BatchNorm1d(512),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, 1),
            nn.Sigmoid()
        )

    def forward(self, x, y):
        x = x.view(x.size(0), -1)
        y = y.view(y.size(0), -1)
        return self.main(torch.cat([self.x_branch(x), self.y_branch(y)], 1))


class cGANGenerator(nn.Module):
    def __init__(self, nz=nz):
        super(cGANGenerator, self).__init__()
        self.z_branch = nn.Sequential(nn.Linear(nz, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(True))
        self.y_branch = nn.Sequential(nn.Linear(10, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(True))
        self.main = nn.Sequential(
            nn.Linear(512, 512, bias=False),
            nn.BatchNorm1d(512),
            nn.ReLU(True),
            nn.Linear(512, 1024, bias=False),
            nn.BatchNorm1d(1024),
            nn.ReLU(True),
            nn.Linear(1024, 1024),
            nn.Tanh()
        )

    def forward(self, z, y):
        z = z.view(z.size(0), -1)
        y = y.view(y.size(0), -1)
        output = self.main(torch.cat([self.z_branch(z), self.y_branch(y)], 1))
        return output.view(-1, 1, 32, 32)


def make_optimizers(netD, netG, lr=lr, betas=betas):
    optimizerD = torch.optim.Adam(netD.parameters(), lr=lr, betas=betas)
    optimizerG = torch.optim.Adam(netG.parameters(), lr=lr, betas=betas)
    return optimizerD, optimizerG


criterion = nn.BCELoss()


def d_step(netD, netG, optimizerD, x_real, y_real, nz=nz):
    netD.zero_grad()
    b_size = x_real.size(0)
    label = torch.full((b_size,), real_label, dtype=torch.float, device=x_real.device)
    output = netD(x_real, y_real).view(-1)
    errD_real = criterion(output, label)
    errD_real.backward()
    noise = get_noise(b_size, nz, x_real.device)
    fake = netG(noise, y_real)
    label.fill_(fake_label)
    output = netD(fake.detach(), y_real).view(-1)
    errD_fake = criterion(output, label)
    errD_fake.backward()
    errD = errD_real + errD_fake
    optimizerD.step()
    return errD.detach()


def g_step(netD, netG, optimizerG, y, nz=nz):
    netG.zero_grad()
    b_size = y.size(0)
    noise = get_noise(b_size, nz, y.device)
    fake = netG(noise, y)
    label = torch.full((b_size,), real_label, dtype=torch.float, device=y.device)
    output = netD(fake, y).view(-1)
    errG = criterion(output, label)
    errG.backward()
    optimizerG.step()
    return errG.detach()


def train_step(netD, netG, optimizerD, optimizerG, x_real, y_real, nz=nz, nb_update_D=1, nb_update_G=1):
    for _ in range(nb_update_D):
        errD = d_step(netD, netG, optimizerD, x_real, y_real, nz)
    for _ in range(nb_update_G):
        errG = g_step(netD, netG, optimizerG, y_real, nz)
    return errD, errG
