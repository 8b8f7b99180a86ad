"""Style: both discriminators return (B, 1) (cDCGAN: output.view(-1, 1)); the steps build their targets
with that shape (torch.ones(b, 1)) and never reshape D's output; one-hot by indexing an identity
matrix."""
import torch
import torch.nn as nn
import torch.nn.functional as F

nz = 100
n_classes = 10
lr = 2e-4
betas = (0.5, 0.999)


def onehot(labels, n_classes=n_classes):
    return torch.eye(n_classes, device=labels.device)[labels.long()].view(-1, n_classes, 1, 1)


def get_noise(batch_size, nz=nz, device="cpu"):
    return torch.randn(batch_size, nz, 1, 1, device=device)


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.constant_(m.bias, 0)


class cDCGANDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_x = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2, True))
        self.conv_y = nn.Sequential(nn.Conv2d(n_classes, 64, 4, 2, 1), nn.LeakyReLU(0.2, True))
        self.main = nn.Sequential(
            nn.Conv2d(128, 256, 4, 2, 1, bias=False), nn.BatchNorm2d(256), nn.LeakyReLU(0.2, True),
            nn.Conv2d(256, 512, 4, 2, 1, bias=False), nn.BatchNorm2d(512), nn.LeakyReLU(0.2, True),
            nn.Conv2d(512, 1, 4, 1, 0), nn.Sigmoid(),
        )

    def forward(self, x, y):
        y = y.view(-1, n_classes, 1, 1).repeat(1, 1, 32, 32)
        h = torch.cat([self.conv_x(x), self.conv_y(y)], 1)
        return self.main(h).view(-1, 1)


class cDCGANGenerator(nn.Module):
    def __init__(self, nz=nz):
        super().__init__()
        self.deconv_z = nn.Sequential(nn.ConvTranspose2d(nz, 256, 4, 1, 0, bias=False), nn.BatchNorm2d(256), nn.ReLU(True))
        self.deconv_y = nn.Sequential(nn.ConvTranspose2d(n_classes, 256, 4, 1, 0, bias=False), nn.BatchNorm2d(256),
                                      nn.ReLU(True))
        self.main = nn.Sequential(
            nn.ConvTranspose2d(512, 256, 4, 2, 1, bias=False), nn.BatchNorm2d(256), nn.ReLU(True),
            nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(True),
            nn.ConvTranspose2d(128, 1, 4, 2, 1), nn.Tanh(),
        )

    def forward(self, z, y):
        return self.main(torch.cat([self.deconv_z(z.view(-1, nz, 1, 1)), self.deconv_y(y.view(-1, n_classes, 1, 1))], 1))


class cGANDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc_x = nn.Sequential(nn.Linear(1024, 1024), nn.LeakyReLU(0.2, True))
        self.fc_y = nn.Sequential(nn.Linear(n_classes, 1024), nn.LeakyReLU(0.2, True))
        self.main = nn.Sequential(
            nn.Linear(2048, 1024, bias=False), nn.BatchNorm1d(1024), nn.LeakyReLU(0.2, True),
            nn.Linear(1024, 512, bias=False), nn.BatchNorm1d(512), nn.LeakyReLU(0.2, True),
            nn.Linear(512, 1), nn.Sigmoid(),
        )

    def forward(self, x, y):
        return self.main(torch.cat([self.fc_x(x.view(-1, 1024)), self.fc_y(y.view(-1, n_classes))], 1))


class cGANGenerator(nn.Module):
    def __init__(self, nz=nz):
        super().__init__()
        self.fc_z = nn.Sequential(nn.Linear(nz, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(True))
        self.fc_y = nn.Sequential(nn.Linear(n_classes, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(True))
        self.main = nn.Sequential(
            nn.Linear(512, 512, bias=False), nn.BatchNorm1d(512), nn.ReLU(True),
            nn.Linear(512, 1024, bias=False), nn.BatchNorm1d(1024), nn.ReLU(True),
            nn.Linear(1024, 1024), nn.Tanh(),
        )

    def forward(self, z, y):
        h = torch.cat([self.fc_z(z.view(-1, nz)), self.fc_y(y.view(-1, n_classes))], 1)
        return self.main(h).view(-1, 1, 32, 32)


def make_optimizers(netD, netG, lr=lr, betas=betas):
    return (torch.optim.Adam(netD.parameters(), lr=lr, betas=betas),
            torch.optim.Adam(netG.parameters(), lr=lr, betas=betas))


def d_step(netD, netG, optimizerD, x_real, y_real, nz=nz):
    b = x_real.size(0)
    ones, zeros = torch.ones(b, 1, device=x_real.device), torch.zeros(b, 1, device=x_real.device)
    optimizerD.zero_grad()
    fake = netG(get_noise(b, nz, x_real.device), y_real)
    errD = F.binary_cross_entropy(netD(x_real, y_real), ones) + \
        F.binary_cross_entropy(netD(fake.detach(), y_real), zeros)
    errD.backward()
    optimizerD.step()
    return errD.item()


def g_step(netD, netG, optimizerG, y, nz=nz):
    b = y.size(0)
    optimizerG.zero_grad()
    fake = netG(get_noise(b, nz, y.device), y)
    errG = F.binary_cross_entropy(netD(fake, y), torch.ones(b, 1, device=y.device))
    errG.backward()
    optimizerG.step()
    return errG.item()


def train_step(netD, netG, optimizerD, optimizerG, x_real, y_real, nz=nz, nb_update_D=1, nb_update_G=1):
    for _ in range(nb_update_D):
        errD = d_step(netD, netG, optimizerD, x_real, y_real, nz)
    for _ in range(nb_update_G):
        errG = g_step(netD, netG, optimizerG, y_real, nz)
    return errD, errG
