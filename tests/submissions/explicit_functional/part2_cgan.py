"""Style: explicit layers, y branches first, torch.cat(y, x), one-hot by scatter_, nn.BCELoss."""
import torch
from torch import nn, optim
import torch.nn.functional as F

nz = 100
n_classes = 10
lr = 0.0002
beta1 = 0.5

criterion = nn.BCELoss()


def onehot(labels, n_classes=n_classes):
    y = torch.zeros(labels.size(0), n_classes, device=labels.device)
    y.scatter_(1, labels.view(-1, 1).long(), 1.0)
    return y.view(-1, n_classes, 1, 1)


def get_noise(batch_size, nz=nz, device="cpu"):
    return torch.randn(batch_size, nz, device=device).view(batch_size, nz, 1, 1)


def weights_init(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.constant_(m.bias, 0.0)


class cDCGANDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_y = nn.Conv2d(n_classes, 64, 4, 2, 1)
        self.conv_x = nn.Conv2d(1, 64, 4, 2, 1)
        self.conv2 = nn.Conv2d(128, 256, 4, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(256)
        self.conv3 = nn.Conv2d(256, 512, 4, 2, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(512)
        self.conv4 = nn.Conv2d(512, 1, 4, 1, 0)

    def forward(self, x, y):
        y = y.view(-1, n_classes, 1, 1).repeat(1, 1, x.size(2), x.size(3))
        hy = F.leaky_relu(self.conv_y(y), 0.2)
        hx = F.leaky_relu(self.conv_x(x), 0.2)
        h = torch.cat([hy, hx], 1)
        h = F.leaky_relu(self.bn2(self.conv2(h)), 0.2)
        h = F.leaky_relu(self.bn3(self.conv3(h)), 0.2)
        return torch.sigmoid(self.conv4(h)).view(-1)  # (B,)


class cDCGANGenerator(nn.Module):
    def __init__(self, nz=nz):
        super().__init__()
        self.tconv_y = nn.ConvTranspose2d(n_classes, 256, 4, 1, 0, bias=False)
        self.bn_y = nn.BatchNorm2d(256)
        self.tconv_z = nn.ConvTranspose2d(nz, 256, 4, 1, 0, bias=False)
        self.bn_z = nn.BatchNorm2d(256)
        self.tconv2 = nn.ConvTranspose2d(512, 256, 4, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(256)
        self.tconv3 = nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(128)
        self.tconv4 = nn.ConvTranspose2d(128, 1, 4, 2, 1)

    def forward(self, z, y):
        hy = F.relu(self.bn_y(self.tconv_y(y.view(-1, n_classes, 1, 1))))
        hz = F.relu(self.bn_z(self.tconv_z(z.view(z.size(0), -1, 1, 1))))
        h = torch.cat((hy, hz), dim=1)
        h = F.relu(self.bn2(self.tconv2(h)))
        h = F.relu(self.bn3(self.tconv3(h)))
        return torch.tanh(self.tconv4(h))


class cGANDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc_y = nn.Linear(n_classes, 1024)
        self.fc_x = nn.Linear(1024, 1024)
        self.fc2 = nn.Linear(2048, 1024, bias=False)
        self.bn2 = nn.BatchNorm1d(1024)
        self.fc3 = nn.Linear(1024, 512, bias=False)
        self.bn3 = nn.BatchNorm1d(512)
        self.fc4 = nn.Linear(512, 1)

    def forward(self, x, y):
        hy = F.leaky_relu(self.fc_y(y.view(y.size(0), n_classes)), 0.2)
        hx = F.leaky_relu(self.fc_x(torch.flatten(x, 1)), 0.2)
        h = torch.cat([hy, hx], dim=1)
        h = F.leaky_relu(self.bn2(self.fc2(h)), 0.2)
        h = F.leaky_relu(self.bn3(self.fc3(h)), 0.2)
        return torch.sigmoid(self.fc4(h)).squeeze(1)


class cGANGenerator(nn.Module):
    def __init__(self, nz=nz):
        super().__init__()
        self.fc_y = nn.Linear(n_classes, 256, bias=False)
        self.bn_y = nn.BatchNorm1d(256)
        self.fc_z = nn.Linear(nz, 256, bias=False)
        self.bn_z = nn.BatchNorm1d(256)
        self.fc2 = nn.Linear(512, 512, bias=False)
        self.bn2 = nn.BatchNorm1d(512)
        self.fc3 = nn.Linear(512, 1024, bias=False)
        self.bn3 = nn.BatchNorm1d(1024)
        self.fc4 = nn.Linear(1024, 1024)

    def forward(self, z, y):
        hy = F.relu(self.bn_y(self.fc_y(y.view(y.size(0), -1))))
        hz = F.relu(self.bn_z(self.fc_z(z.view(z.size(0), -1))))
        h = torch.cat([hy, hz], 1)
        h = F.relu(self.bn2(self.fc2(h)))
        h = F.relu(self.bn3(self.fc3(h)))
        return torch.tanh(self.fc4(h)).view(-1, 1, 32, 32)


def make_optimizers(netD, netG, lr=lr, betas=(beta1, 0.999)):
    return (optim.Adam(netD.parameters(), lr=lr, betas=betas),
            optim.Adam(netG.parameters(), lr=lr, betas=betas))


def d_step(netD, netG, optimizerD, x_real, y_real, nz=nz):
    b = x_real.size(0)
    with torch.no_grad():
        x_fake = netG(get_noise(b, nz, x_real.device), y_real)
    netD.zero_grad()
    out_real = netD(x_real, y_real).view(-1)
    out_fake = netD(x_fake, y_real).view(-1)
    errD = criterion(out_real, torch.ones(b, device=x_real.device)) + \
        criterion(out_fake, torch.zeros(b, device=x_real.device))
    errD.backward()
    optimizerD.step()
    return errD.item()


def g_step(netD, netG, optimizerG, y, nz=nz):
    b = y.size(0)
    netG.zero_grad()
    out = netD(netG(get_noise(b, nz, y.device), y), y).view(-1)
    errG = criterion(out, torch.ones(b, device=y.device))
    errG.backward()
    optimizerG.step()
    return errG.item()


def train_step(netD, netG, optimizerD, optimizerG, x_real, y_real, nz=nz, nb_update_D=1, nb_update_G=1):
    errD = errG = None
    for _ in range(nb_update_D):
        errD = d_step(netD, netG, optimizerD, x_real, y_real, nz)
    for _ in range(nb_update_G):
        errG = g_step(netD, netG, optimizerG, y_real, nz)
    return errD, errG
