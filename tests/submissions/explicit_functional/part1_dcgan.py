"""Style: explicit layers as attributes, functional activations, flattened D outputs,
nn.BCELoss for the steps, fakes made under torch.no_grad(), net.zero_grad()."""
import torch
from torch import nn, optim
import torch.nn.functional as F

nz = 100
ndf = 32
ngf = 32
nc = 3
lr = 0.0002
beta1 = 0.5

criterion = nn.BCELoss()


class Discriminator(nn.Module):
    def __init__(self, ndf=ndf, nc=nc):
        super(Discriminator, self).__init__()
        self.conv1 = nn.Conv2d(nc, ndf, kernel_size=4, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(ndf)
        self.conv2 = nn.Conv2d(ndf, 2 * ndf, kernel_size=4, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * ndf)
        self.conv3 = nn.Conv2d(2 * ndf, 4 * ndf, kernel_size=4, stride=2, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * ndf)
        self.conv4 = nn.Conv2d(4 * ndf, 1, kernel_size=4, stride=1, padding=0, bias=False)

    def forward(self, x):
        h = F.leaky_relu(self.bn1(self.conv1(x)), 0.2)
        h = F.leaky_relu(self.bn2(self.conv2(h)), negative_slope=0.2)
        h = F.leaky_relu(self.bn3(self.conv3(h)), 0.2)
        return torch.sigmoid(self.conv4(h)).view(-1, 1)  # (B, 1)


class Generator(nn.Module):
    def __init__(self, nz=nz, ngf=ngf, nc=nc):
        super(Generator, self).__init__()
        self.tconv1 = nn.ConvTranspose2d(nz, 4 * ngf, 4, 1, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(4 * ngf)
        self.tconv2 = nn.ConvTranspose2d(4 * ngf, 2 * ngf, 4, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * ngf)
        self.tconv3 = nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(ngf)
        self.tconv4 = nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False)

    def forward(self, z):
        h = F.relu(self.bn1(self.tconv1(z)))
        h = F.relu(self.bn2(self.tconv2(h)))
        h = F.relu(self.bn3(self.tconv3(h)))
        return torch.tanh(self.tconv4(h))


class Discriminator64(nn.Module):
    def __init__(self, ndf=ndf, nc=nc):
        super(Discriminator64, self).__init__()
        self.conv1 = nn.Conv2d(nc, ndf, 4, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(ndf)
        self.conv2 = nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(ndf * 2)
        self.conv3 = nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(ndf * 4)
        self.conv4 = nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False)
        self.bn4 = nn.BatchNorm2d(ndf * 8)
        self.conv5 = nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False)

    def forward(self, x):
        x = F.leaky_relu(self.bn1(self.conv1(x)), 0.2)
        x = F.leaky_relu(self.bn2(self.conv2(x)), 0.2)
        x = F.leaky_relu(self.bn3(self.conv3(x)), 0.2)
        x = F.leaky_relu(self.bn4(self.conv4(x)), 0.2)
        return self.conv5(x).sigmoid().squeeze()  # (B,)


class Generator64(nn.Module):
    def __init__(self, nz=nz, ngf=ngf, nc=nc):
        super(Generator64, self).__init__()
        self.tconv1 = nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(ngf * 8)
        self.tconv2 = nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(ngf * 4)
        self.tconv3 = nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(ngf * 2)
        self.tconv4 = nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False)
        self.bn4 = nn.BatchNorm2d(ngf)
        self.tconv5 = nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False)

    def forward(self, z):
        z = torch.relu(self.bn1(self.tconv1(z)))
        z = torch.relu(self.bn2(self.tconv2(z)))
        z = torch.relu(self.bn3(self.tconv3(z)))
        z = torch.relu(self.bn4(self.tconv4(z)))
        return F.tanh(self.tconv5(z))


def weights_init(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        m.weight.data.normal_(0.0, 0.02)
    elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)


def get_noise(batch_size, nz=nz, device="cpu"):
    return torch.randn(batch_size, nz, 1, 1).to(device)


def bce(probs, targets):
    # clamp p before the log: log(0) is never taken, so value and gradient stay finite
    log_p = torch.log(torch.clamp(probs, 1e-12, 1.0))
    log_q = torch.log(torch.clamp(1 - probs, 1e-12, 1.0))
    return torch.mean(-(targets * log_p) - (1 - targets) * log_q)


def d_loss(d_real, d_fake):
    return criterion(d_real, torch.ones_like(d_real)) + criterion(d_fake, torch.zeros_like(d_fake))


def g_loss(d_fake):
    return criterion(d_fake, torch.ones_like(d_fake))


def g_loss_minimax(d_fake):
    return torch.mean(torch.log(1 - d_fake))


def lsgan_d_loss(d_real, d_fake):
    return 0.5 * torch.mean((d_real - 1) ** 2) + 0.5 * torch.mean(d_fake ** 2)


def lsgan_g_loss(d_fake):
    return 0.5 * F.mse_loss(d_fake, torch.ones_like(d_fake))


def make_optimizers(netD, netG, lr=lr, betas=(beta1, 0.999)):
    optimizerD = optim.Adam(netD.parameters(), lr=lr, betas=betas)
    optimizerG = optim.Adam(netG.parameters(), lr=lr, betas=betas)
    return optimizerD, optimizerG


def d_step(netD, netG, optimizerD, x_real, nz=nz):
    b = x_real.size(0)
    with torch.no_grad():
        fake = netG(get_noise(b, nz, x_real.device))
    netD.zero_grad()
    out_real = netD(x_real).view(-1)
    out_fake = netD(fake).view(-1)
    errD = criterion(out_real, torch.ones(b, device=x_real.device)) + \
        criterion(out_fake, torch.zeros(b, device=x_real.device))
    errD.backward()
    optimizerD.step()
    return errD.item()


def g_step(netD, netG, optimizerG, batch_size, nz=nz, device="cpu"):
    netG.zero_grad()
    fake = netG(get_noise(batch_size, nz, device))
    output = netD(fake).view(-1)
    errG = criterion(output, torch.ones(batch_size, device=device))
    errG.backward()
    optimizerG.step()
    return errG.item()


def train_step(netD, netG, optimizerD, optimizerG, x_real, nz=nz, nb_update_D=1, nb_update_G=1):
    errD = errG = None
    i = 0
    while i < nb_update_D:
        errD = d_step(netD, netG, optimizerD, x_real, nz)
        i += 1
    j = 0
    while j < nb_update_G:
        errG = g_step(netD, netG, optimizerG, x_real.size(0), nz, x_real.device)
        j += 1
    return errD, errG


def interpolate(netG, z1, z2, n_steps=10):
    images = []
    with torch.no_grad():
        for alpha in torch.linspace(1, 0, n_steps).tolist():
            images.append(netG(alpha * z1 + (1 - alpha) * z2))
    return torch.cat(images)
