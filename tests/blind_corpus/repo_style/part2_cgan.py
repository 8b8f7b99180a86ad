# Part 2 - conditional GANs (style of common GitHub cGAN repos)
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Normal

nz = 100
n_classes = 10
lr = 2e-4
betas = (0.5, 0.999)


def onehot(labels, n_classes=n_classes):
    out = torch.zeros(labels.size(0), n_classes, device=labels.device)
    out.scatter_(1, labels.long().unsqueeze(1), 1.0)
    return out.unsqueeze(-1).unsqueeze(-1)


def get_noise(batch_size, nz=nz, device="cpu"):
    return Normal(0.0, 1.0).sample((batch_size, nz, 1, 1)).to(device)


def weights_init(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class cDCGANDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1_1 = nn.Conv2d(1, 64, 4, 2, 1)
        self.conv1_2 = nn.Conv2d(10, 64, 4, 2, 1)
        self.conv2 = nn.Conv2d(128, 256, 4, 2, 1, bias=False)
        self.conv2_bn = nn.BatchNorm2d(256)
        self.conv3 = nn.Conv2d(256, 512, 4, 2, 1, bias=False)
        self.conv3_bn = nn.BatchNorm2d(512)
        self.conv4 = nn.Conv2d(512, 1, 4, 1, 0)

    def forward(self, input, label):
        label = label.repeat(1, 1, input.size(2), input.size(3))
        x = F.leaky_relu(self.conv1_1(input), 0.2)
        y = F.leaky_relu(self.conv1_2(label), 0.2)
        x = torch.cat([x, y], 1)
        x = F.leaky_relu(self.conv2_bn(self.conv2(x)), 0.2)
        x = F.leaky_relu(self.conv3_bn(self.conv3(x)), 0.2)
        x = torch.sigmoid(self.conv4(x))
        return x.view(-1, 1)


class cDCGANGenerator(nn.Module):
    def __init__(self, nz=nz):
        super().__init__()
        self.deconv1_1 = nn.ConvTranspose2d(nz, 256, 4, 1, 0, bias=False)
        self.deconv1_1_bn = nn.BatchNorm2d(256)
        self.deconv1_2 = nn.ConvTranspose2d(10, 256, 4, 1, 0, bias=False)
        self.deconv1_2_bn = nn.BatchNorm2d(256)
        self.deconv2 = nn.ConvTranspose2d(512, 256, 4, 2, 1, bias=False)
        self.deconv2_bn = nn.BatchNorm2d(256)
        self.deconv3 = nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False)
        self.deconv3_bn = nn.BatchNorm2d(128)
        self.deconv4 = nn.ConvTranspose2d(128, 1, 4, 2, 1)

    def forward(self, input, label):
        x = F.relu(self.deconv1_1_bn(self.deconv1_1(input)))
        y = F.relu(self.deconv1_2_bn(self.deconv1_2(label)))
        x = torch.cat([x, y], 1)
        x = F.relu(self.deconv2_bn(self.deconv2(x)))
        x = F.relu(self.deconv3_bn(self.deconv3(x)))
        return torch.tanh(self.deconv4(x))


class cGANDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1_1 = nn.Linear(1024, 1024)
        self.fc1_2 = nn.Linear(10, 1024)
        self.fc2 = nn.Linear(2048, 1024, bias=False)
        self.fc2_bn = nn.BatchNorm1d(1024)
        self.fc3 = nn.Linear(1024, 512, bias=False)
        self.fc3_bn = nn.BatchNorm1d(512)
        self.fc4 = nn.Linear(512, 1)

    def forward(self, input, label):
        x = F.leaky_relu(self.fc1_1(input.flatten(1)), 0.2)
        y = F.leaky_relu(self.fc1_2(label.flatten(1)), 0.2)
        x = torch.cat([x, y], 1)
        x = F.leaky_relu(self.fc2_bn(self.fc2(x)), 0.2)
        x = F.leaky_relu(self.fc3_bn(self.fc3(x)), 0.2)
        return torch.sigmoid(self.fc4(x))


class cGANGenerator(nn.Module):
    def __init__(self, nz=nz):
        super().__init__()
        self.fc1_1 = nn.Linear(nz, 256, bias=False)
        self.fc1_1_bn = nn.BatchNorm1d(256)
        self.fc1_2 = nn.Linear(10, 256, bias=False)
        self.fc1_2_bn = nn.BatchNorm1d(256)
        self.fc2 = nn.Linear(512, 512, bias=False)
        self.fc2_bn = nn.BatchNorm1d(512)
        self.fc3 = nn.Linear(512, 1024, bias=False)
        self.fc3_bn = nn.BatchNorm1d(1024)
        self.fc4 = nn.Linear(1024, 1024)

    def forward(self, input, label):
        x = F.relu(self.fc1_1_bn(self.fc1_1(input.flatten(1))))
        y = F.relu(self.fc1_2_bn(self.fc1_2(label.flatten(1))))
        x = torch.cat([x, y], 1)
        x = F.relu(self.fc2_bn(self.fc2(x)))
        x = F.relu(self.fc3_bn(self.fc3(x)))
        x = torch.tanh(self.fc4(x))
        return x.view(-1, 1, 32, 32)


def make_optimizers(netD, netG, lr=lr, betas=betas):
    return (torch.optim.Adam(netD.parameters(), lr=lr, betas=betas),
            torch.optim.Adam(netG.parameters(), lr=lr, betas=betas))


def d_step(netD, netG, optimizerD, x_real, y_real, nz=nz):
    optimizerD.zero_grad()
    z = get_noise(x_real.size(0), nz, x_real.device)
    fake = netG(z, y_real).detach()
    real_validity = netD(x_real, y_real)
    fake_validity = netD(fake, y_real)
    real_loss = F.binary_cross_entropy(real_validity, torch.ones_like(real_validity))
    fake_loss = F.binary_cross_entropy(fake_validity, torch.zeros_like(fake_validity))
    loss = real_loss + fake_loss
    loss.backward()
    optimizerD.step()
    return loss.detach()


def g_step(netD, netG, optimizerG, y, nz=nz):
    optimizerG.zero_grad()
    z = get_noise(y.size(0), nz, y.device)
    validity = netD(netG(z, y), y)
    loss = F.binary_cross_entropy(validity, torch.ones_like(validity))
    loss.backward()
    optimizerG.step()
    return loss.detach()


def train_step(netD, netG, optimizerD, optimizerG, x_real, y_real, nz=nz, nb_update_D=1, nb_update_G=1):
    for _ in range(nb_update_D):
        loss_d = d_step(netD, netG, optimizerD, x_real, y_real, nz=nz)
    for _ in range(nb_update_G):
        loss_g = g_step(netD, netG, optimizerG, y_real, nz=nz)
    return loss_d, loss_g
