# Part 2 - conditional GANs: explicit layers, functional activations
import torch
import torch.nn as nn
import torch.nn.functional as F

nz = 100
n_classes = 10
lr = 2e-4
betas = (0.5, 0.999)


def onehot(labels, n_classes=n_classes):
    """Integer labels (B,) -> one-hot float tensor (B, n_classes, 1, 1)."""
    eye = torch.eye(n_classes, device=labels.device)
    return eye[labels][:, :, None, None]


def get_noise(batch_size, nz=nz, device="cpu"):
    """The prior P(z) = N(0, I), shaped (B, nz, 1, 1)."""
    return torch.normal(0.0, 1.0, size=(batch_size, nz, 1, 1), device=device)


def weights_init(m):
    """DCGAN initialisation: convolutions ~ N(0, 0.02), BatchNorm scale ~ N(1, 0.02), shift 0."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.modules.batchnorm._BatchNorm):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class cDCGANDiscriminator(nn.Module):
    """(x (B, 1, 32, 32), y (B, 10, 1, 1)) -> probability that x is a real image of class y."""

    def __init__(self):
        super().__init__()
        self.conv_x = nn.Conv2d(1, 64, kernel_size=4, stride=2, padding=1)
        self.conv_y = nn.Conv2d(10, 64, kernel_size=4, stride=2, padding=1)
        self.conv1 = nn.Conv2d(128, 256, kernel_size=4, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(256)
        self.conv2 = nn.Conv2d(256, 512, kernel_size=4, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(512)
        self.conv3 = nn.Conv2d(512, 1, kernel_size=4, stride=1, padding=0)

    def forward(self, x, y):
        y_maps = y * torch.ones(y.size(0), y.size(1), 32, 32, device=y.device)
        hx = F.leaky_relu(self.conv_x(x), 0.2)
        hy = F.leaky_relu(self.conv_y(y_maps), 0.2)
        h = torch.cat((hx, hy), dim=1)
        h = F.leaky_relu(self.bn1(self.conv1(h)), 0.2)
        h = F.leaky_relu(self.bn2(self.conv2(h)), 0.2)
        return torch.sigmoid(self.conv3(h))


class cDCGANGenerator(nn.Module):
    """(z (B, nz, 1, 1), y (B, 10, 1, 1)) -> image of class y, (B, 1, 32, 32) in (-1, 1)."""

    def __init__(self, nz=nz):
        super().__init__()
        self.deconv_z = nn.ConvTranspose2d(nz, 256, kernel_size=4, stride=1, padding=0, bias=False)
        self.bn_z = nn.BatchNorm2d(256)
        self.deconv_y = nn.ConvTranspose2d(10, 256, kernel_size=4, stride=1, padding=0, bias=False)
        self.bn_y = nn.BatchNorm2d(256)
        self.deconv1 = nn.ConvTranspose2d(512, 256, kernel_size=4, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(256)
        self.deconv2 = nn.ConvTranspose2d(256, 128, kernel_size=4, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(128)
        self.deconv3 = nn.ConvTranspose2d(128, 1, kernel_size=4, stride=2, padding=1)

    def forward(self, z, y):
        hz = F.relu(self.bn_z(self.deconv_z(z)))
        hy = F.relu(self.bn_y(self.deconv_y(y)))
        h = torch.cat((hz, hy), dim=1)
        h = F.relu(self.bn1(self.deconv1(h)))
        h = F.relu(self.bn2(self.deconv2(h)))
        return torch.tanh(self.deconv3(h))


class cGANDiscriminator(nn.Module):
    """Fully connected: (x flattened to 1024, y one-hot 10) -> probability, (B, 1)."""

    def __init__(self):
        super().__init__()
        self.fc_x = nn.Linear(1024, 1024)
        self.fc_y = nn.Linear(10, 1024)
        self.fc1 = nn.Linear(2048, 1024, bias=False)
        self.bn1 = nn.BatchNorm1d(1024)
        self.fc2 = nn.Linear(1024, 512, bias=False)
        self.bn2 = nn.BatchNorm1d(512)
        self.fc3 = nn.Linear(512, 1)

    def forward(self, x, y):
        hx = F.leaky_relu(self.fc_x(x.reshape(len(x), 1024)), 0.2)
        hy = F.leaky_relu(self.fc_y(y.reshape(len(y), 10)), 0.2)
        h = torch.cat((hx, hy), dim=1)
        h = F.leaky_relu(self.bn1(self.fc1(h)), 0.2)
        h = F.leaky_relu(self.bn2(self.fc2(h)), 0.2)
        return torch.sigmoid(self.fc3(h))


class cGANGenerator(nn.Module):
    """Fully connected: (z, y) -> image seen as (B, 1, 32, 32) in (-1, 1)."""

    def __init__(self, nz=nz):
        super().__init__()
        self.nz = nz
        self.fc_z = nn.Linear(nz, 256, bias=False)
        self.bn_z = nn.BatchNorm1d(256)
        self.fc_y = nn.Linear(10, 256, bias=False)
        self.bn_y = nn.BatchNorm1d(256)
        self.fc1 = nn.Linear(512, 512, bias=False)
        self.bn1 = nn.BatchNorm1d(512)
        self.fc2 = nn.Linear(512, 1024, bias=False)
        self.bn2 = nn.BatchNorm1d(1024)
        self.fc3 = nn.Linear(1024, 1024)

    def forward(self, z, y):
        hz = F.relu(self.bn_z(self.fc_z(z.reshape(len(z), self.nz))))
        hy = F.relu(self.bn_y(self.fc_y(y.reshape(len(y), 10))))
        h = torch.cat((hz, hy), dim=1)
        h = F.relu(self.bn1(self.fc1(h)))
        h = F.relu(self.bn2(self.fc2(h)))
        return torch.tanh(self.fc3(h)).reshape(len(z), 1, 32, 32)


def make_optimizers(netD, netG, lr=lr, betas=betas):
    """Adam for both networks with the course's lr 2e-4 and betas (0.5, 0.999)."""
    optimizerD = torch.optim.Adam(netD.parameters(), lr, betas)
    optimizerG = torch.optim.Adam(netG.parameters(), lr, betas)
    return optimizerD, optimizerG


def d_step(netD, netG, optimizerD, x_real, y_real, nz=nz):
    """One D update: real images with their own labels, fakes with the labels they were made from."""
    z = get_noise(len(x_real), nz, x_real.device)
    x_fake = netG(z, y_real).detach()
    optimizerD.zero_grad()
    p_real = netD(x_real, y_real)
    p_fake = netD(x_fake, y_real)
    loss = F.binary_cross_entropy(p_real, torch.ones_like(p_real)) + \
        F.binary_cross_entropy(p_fake, torch.zeros_like(p_fake))
    loss.backward()
    optimizerD.step()
    return loss.detach()


def g_step(netD, netG, optimizerG, y, nz=nz):
    """One G update with the non-saturating loss; D judges each fake with the label it was made for."""
    optimizerG.zero_grad()
    z = get_noise(y.size(0), nz, y.device)
    p_fake = netD(netG(z, y), y)
    loss = -torch.log(p_fake.clamp(min=1e-12)).mean()
    loss.backward()
    optimizerG.step()
    return loss.detach()


def train_step(netD, netG, optimizerD, optimizerG, x_real, y_real, nz=nz, nb_update_D=1, nb_update_G=1):
    """One training iteration: nb_update_D D steps, then nb_update_G G steps with the batch's labels."""
    for _ in range(nb_update_D):
        loss_d = d_step(netD, netG, optimizerD, x_real, y_real, nz=nz)
    for _ in range(nb_update_G):
        loss_g = g_step(netD, netG, optimizerG, y_real, nz=nz)
    return loss_d, loss_g
