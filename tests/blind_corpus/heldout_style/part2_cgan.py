# Part 2 - conditional GANs on MNIST
# In the manner of eriklindernoren/PyTorch-GAN (implementations/cgan/cgan.py): a module-level
# `adversarial_loss = nn.BCELoss()`, a `block()` helper for the fully connected nets,
# `weights_init_normal` by class name, `validity` / `valid` / `fake` naming.
import torch
import torch.nn as nn
import torch.nn.functional as F

nz = 100
n_classes = 10
lr = 2e-4
betas = (0.5, 0.999)

adversarial_loss = nn.BCELoss()


def onehot(labels, n_classes=n_classes):
    """Integer labels (B,) -> one-hot float tensor (B, n_classes, 1, 1)."""
    eye = torch.eye(n_classes, device=labels.device)
    return eye[labels.long()].view(-1, n_classes, 1, 1)


def get_noise(batch_size, nz=nz, device="cpu"):
    """The prior P(z) = N(0, I), shaped (B, nz, 1, 1)."""
    return torch.randn(batch_size, nz, 1, 1, device=device)


def weights_init_normal(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight.data, 1.0, 0.02)
        torch.nn.init.constant_(m.bias.data, 0.0)


def weights_init(m):
    """DCGAN initialisation: convolutions ~ N(0, 0.02), BatchNorm scale ~ N(1, 0.02), shift 0."""
    weights_init_normal(m)


class cDCGANDiscriminator(nn.Module):
    """(x (B, 1, 32, 32), y (B, 10, 1, 1)) -> probability that x is a real image of class y."""

    def __init__(self):
        super(cDCGANDiscriminator, self).__init__()
        self.img_branch = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True))
        self.label_branch = nn.Sequential(nn.Conv2d(n_classes, 64, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True))
        self.model = nn.Sequential(
            nn.Conv2d(128, 256, 4, 2, 1, bias=False),
            nn.BatchNorm2d(256),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(256, 512, 4, 2, 1, bias=False),
            nn.BatchNorm2d(512),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(512, 1, 4, 1, 0),
            nn.Sigmoid(),
        )

    def forward(self, img, labels):
        label_maps = labels.view(labels.size(0), n_classes, 1, 1).expand(-1, -1, img.size(2), img.size(3))
        d_in = torch.cat((self.img_branch(img), self.label_branch(label_maps)), 1)
        validity = self.model(d_in)
        return validity


class cDCGANGenerator(nn.Module):
    """(z (B, nz, 1, 1), y (B, 10, 1, 1)) -> image of class y, (B, 1, 32, 32) in (-1, 1)."""

    def __init__(self, nz=nz):
        super(cDCGANGenerator, self).__init__()
        self.noise_branch = nn.Sequential(
            nn.ConvTranspose2d(nz, 256, 4, 1, 0, bias=False), nn.BatchNorm2d(256), nn.ReLU(True)
        )
        self.label_branch = nn.Sequential(
            nn.ConvTranspose2d(n_classes, 256, 4, 1, 0, bias=False), nn.BatchNorm2d(256), nn.ReLU(True)
        )
        self.model = nn.Sequential(
            nn.ConvTranspose2d(512, 256, 4, 2, 1, bias=False),
            nn.BatchNorm2d(256),
            nn.ReLU(True),
            nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(True),
            nn.ConvTranspose2d(128, 1, 4, 2, 1),
            nn.Tanh(),
        )

    def forward(self, noise, labels):
        labels = labels.view(labels.size(0), n_classes, 1, 1)
        gen_input = torch.cat((self.noise_branch(noise), self.label_branch(labels)), 1)
        img = self.model(gen_input)
        return img


class cGANDiscriminator(nn.Module):
    """Fully connected: (x flattened to 1024, y one-hot 10) -> probability, (B, 1)."""

    def __init__(self):
        super(cGANDiscriminator, self).__init__()
        self.img_branch = nn.Sequential(nn.Linear(1024, 1024), nn.LeakyReLU(0.2, inplace=True))
        self.label_branch = nn.Sequential(nn.Linear(n_classes, 1024), nn.LeakyReLU(0.2, inplace=True))
        self.model = nn.Sequential(
            nn.Linear(2048, 1024, bias=False),
            nn.BatchNorm1d(1024),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(1024, 512, bias=False),
            nn.BatchNorm1d(512),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, 1),
            nn.Sigmoid(),
        )

    def forward(self, img, labels):
        img_flat = img.view(img.size(0), -1)
        labels_flat = labels.view(labels.size(0), -1)
        d_in = torch.cat((self.img_branch(img_flat), self.label_branch(labels_flat)), -1)
        validity = self.model(d_in)
        return validity


class cGANGenerator(nn.Module):
    """Fully connected: (z, y) -> image seen as (B, 1, 32, 32) in (-1, 1)."""

    def __init__(self, nz=nz):
        super(cGANGenerator, self).__init__()

        def block(in_feat, out_feat):
            layers = [nn.Linear(in_feat, out_feat, bias=False)]
            layers.append(nn.BatchNorm1d(out_feat))
            layers.append(nn.ReLU(inplace=True))
            return layers

        self.noise_branch = nn.Sequential(*block(nz, 256))
        self.label_branch = nn.Sequential(*block(n_classes, 256))
        self.model = nn.Sequential(
            *block(512, 512),
            *block(512, 1024),
            nn.Linear(1024, 1024),
            nn.Tanh(),
        )
        self.img_shape = (1, 32, 32)

    def forward(self, noise, labels):
        noise = noise.view(noise.size(0), -1)
        labels = labels.view(labels.size(0), -1)
        gen_input = torch.cat((self.noise_branch(noise), self.label_branch(labels)), -1)
        img = self.model(gen_input)
        img = img.view(img.size(0), *self.img_shape)
        return img


def make_optimizers(netD, netG, lr=lr, betas=betas):
    """Adam for both networks."""
    optimizer_D = torch.optim.Adam(netD.parameters(), lr=lr, betas=betas)
    optimizer_G = torch.optim.Adam(netG.parameters(), lr=lr, betas=betas)
    return optimizer_D, optimizer_G


def d_step(netD, netG, optimizerD, x_real, y_real, nz=nz):
    """One D update: reals with their labels, fakes with the labels they were generated from."""
    batch_size = x_real.size(0)
    z = get_noise(batch_size, nz, x_real.device)
    gen_imgs = netG(z, y_real)

    optimizerD.zero_grad()

    # Loss for real images
    validity_real = netD(x_real, y_real)
    d_real_loss = adversarial_loss(validity_real, torch.ones_like(validity_real))

    # Loss for fake images
    validity_fake = netD(gen_imgs.detach(), y_real)
    d_fake_loss = adversarial_loss(validity_fake, torch.zeros_like(validity_fake))

    d_loss = d_real_loss + d_fake_loss
    d_loss.backward()
    optimizerD.step()
    return d_loss.detach()


def g_step(netD, netG, optimizerG, y, nz=nz):
    """One G update with the non-saturating loss; D judges each fake with its own label."""
    optimizerG.zero_grad()

    z = get_noise(y.size(0), nz, y.device)
    gen_imgs = netG(z, y)

    validity = netD(gen_imgs, y)
    g_loss = adversarial_loss(validity, torch.ones_like(validity))

    g_loss.backward()
    optimizerG.step()
    return g_loss.detach()


def train_step(netD, netG, optimizerD, optimizerG, x_real, y_real, nz=nz, nb_update_D=1, nb_update_G=1):
    """nb_update_D D steps, then nb_update_G G steps with the batch's labels."""
    loss_d = loss_g = None
    for _ in range(nb_update_D):
        loss_d = d_step(netD, netG, optimizerD, x_real, y_real, nz=nz)
    for _ in range(nb_update_G):
        loss_g = g_step(netD, netG, optimizerG, y_real, nz=nz)
    return loss_d, loss_g
