# Part 1 - DCGAN
# Written the way eriklindernoren/PyTorch-GAN (implementations/dcgan/dcgan.py) and the
# pix2pix/CycleGAN repo write their GANs: block-builder helpers, `valid` / `fake` target
# tensors, classname-based init, set_requires_grad for the discriminator in the G step.
import torch
import torch.nn as nn

nz = 100
ndf = 32
ngf = 32
nc = 3
lr = 2e-4
betas = (0.5, 0.999)


def discriminator_block(in_filters, out_filters, bn=True):
    """Returns the layers of one downsampling block (stride-2 conv, no bias)."""
    block = [nn.Conv2d(in_filters, out_filters, 4, 2, 1, bias=False)]
    if bn:
        block.append(nn.BatchNorm2d(out_filters))
    block.append(nn.LeakyReLU(0.2, inplace=True))
    return block


def generator_block(in_filters, out_filters, stride=2, padding=1):
    """Returns the layers of one upsampling block (transposed conv, no bias)."""
    return [
        nn.ConvTranspose2d(in_filters, out_filters, 4, stride, padding, bias=False),
        nn.BatchNorm2d(out_filters),
        nn.ReLU(True),
    ]


class Discriminator(nn.Module):
    """32x32 image -> probability of being real, flattened to (B,)."""

    def __init__(self, ndf=ndf, nc=nc):
        super(Discriminator, self).__init__()
        self.model = nn.Sequential(
            *discriminator_block(nc, ndf),
            *discriminator_block(ndf, ndf * 2),
            *discriminator_block(ndf * 2, ndf * 4),
        )
        self.adv_layer = nn.Sequential(nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, img):
        out = self.model(img)
        validity = self.adv_layer(out)
        return validity.view(-1)


class Generator(nn.Module):
    """z (B, nz, 1, 1) -> image (B, nc, 32, 32) in (-1, 1)."""

    def __init__(self, nz=nz, ngf=ngf, nc=nc):
        super(Generator, self).__init__()
        self.conv_blocks = nn.Sequential(
            *generator_block(nz, ngf * 4, stride=1, padding=0),
            *generator_block(ngf * 4, ngf * 2),
            *generator_block(ngf * 2, ngf),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z):
        img = self.conv_blocks(z)
        return img


class Discriminator64(nn.Module):
    """The 64x64 variant: one more conv block at 8*ndf channels."""

    def __init__(self, ndf=ndf, nc=nc):
        super(Discriminator64, self).__init__()
        filters = [nc, ndf, ndf * 2, ndf * 4, ndf * 8]
        layers = []
        for in_filters, out_filters in zip(filters[:-1], filters[1:]):
            layers += discriminator_block(in_filters, out_filters)
        self.model = nn.Sequential(*layers)
        self.adv_layer = nn.Sequential(nn.Conv2d(filters[-1], 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, img):
        return self.adv_layer(self.model(img)).view(-1)


class Generator64(nn.Module):
    """The 64x64 variant: one more transposed-conv block at 8*ngf channels."""

    def __init__(self, nz=nz, ngf=ngf, nc=nc):
        super(Generator64, self).__init__()
        self.conv_blocks = nn.Sequential(
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

    def forward(self, z):
        return self.conv_blocks(z)


def weights_init(m):
    """DCGAN initialisation: convolutions ~ N(0, 0.02), BatchNorm scale ~ N(1, 0.02), shift 0."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight.data, 1.0, 0.02)
        torch.nn.init.constant_(m.bias.data, 0.0)


def get_noise(batch_size, nz=nz, device="cpu"):
    """The prior P(z) = N(0, I), shaped (B, nz, 1, 1)."""
    return torch.randn(batch_size, nz, 1, 1, device=device)


def clamped_log(p):
    """log(p) floored at -100; log is only evaluated where p > 0."""
    positive = p > 0
    safe_p = torch.where(positive, p, torch.ones_like(p))
    return torch.where(positive, torch.log(safe_p), torch.full_like(p, -100.0)).clamp(min=-100.0)


def bce(probs, targets):
    """Binary cross-entropy, mean over elements."""
    log_likelihood = targets * clamped_log(probs) + (1 - targets) * clamped_log(1 - probs)
    return -log_likelihood.mean()


def d_loss(d_real, d_fake):
    """Equation 7 as a loss to minimise."""
    valid = torch.ones_like(d_real)
    fake = torch.zeros_like(d_fake)
    real_loss = bce(d_real, valid)
    fake_loss = bce(d_fake, fake)
    return real_loss + fake_loss


def g_loss(d_fake):
    """Non-saturating generator loss (equation 6)."""
    valid = torch.ones_like(d_fake)
    return bce(d_fake, valid)


def g_loss_minimax(d_fake):
    """The "true" minimax generator loss: E[log(1 - D(G(z)))]."""
    return clamped_log(1 - d_fake).mean()


def lsgan_d_loss(d_real, d_fake):
    """LSGAN discriminator loss on raw scores."""
    return 0.5 * (d_real - 1).pow(2).mean() + 0.5 * d_fake.pow(2).mean()


def lsgan_g_loss(d_fake):
    """LSGAN generator loss: 1/2 E[(D(G(z)) - 1)^2]."""
    return 0.5 * (d_fake - 1).pow(2).mean()


def make_optimizers(netD, netG, lr=lr, betas=betas):
    """Adam for both networks."""
    optimizer_D = torch.optim.Adam(netD.parameters(), lr=lr, betas=betas)
    optimizer_G = torch.optim.Adam(netG.parameters(), lr=lr, betas=betas)
    return optimizer_D, optimizer_G


def set_requires_grad(nets, requires_grad=False):
    """As in the pix2pix/CycleGAN repo: switch gradient computation of whole networks on or off."""
    if not isinstance(nets, (list, tuple)):
        nets = [nets]
    for net in nets:
        if net is not None:
            for param in net.parameters():
                param.requires_grad = requires_grad


def d_step(netD, netG, optimizerD, x_real, nz=nz):
    """One discriminator update on a real batch and as many fakes."""
    batch_size = x_real.size(0)
    z = get_noise(batch_size, nz, x_real.device)
    gen_imgs = netG(z)

    optimizerD.zero_grad()
    loss = d_loss(netD(x_real), netD(gen_imgs.detach()))
    loss.backward()
    optimizerD.step()
    return loss.detach()


def g_step(netD, netG, optimizerG, batch_size, nz=nz, device="cpu"):
    """One generator update with the non-saturating loss; D's parameters are left untouched."""
    set_requires_grad(netD, False)
    optimizerG.zero_grad()
    z = get_noise(batch_size, nz, device)
    gen_imgs = netG(z)
    loss = g_loss(netD(gen_imgs))
    loss.backward()
    optimizerG.step()
    set_requires_grad(netD, True)
    return loss.detach()


def train_step(netD, netG, optimizerD, optimizerG, x_real, nz=nz, nb_update_D=1, nb_update_G=1):
    """nb_update_D discriminator steps, then nb_update_G generator steps."""
    loss_d, loss_g = None, None
    for _ in range(nb_update_D):
        loss_d = d_step(netD, netG, optimizerD, x_real, nz=nz)
    for _ in range(nb_update_G):
        loss_g = g_step(netD, netG, optimizerG, x_real.size(0), nz=nz, device=x_real.device)
    return loss_d, loss_g


@torch.no_grad()
def interpolate(netG, z1, z2, n_steps=10):
    """Images G(alpha * z1 + (1 - alpha) * z2) for n_steps values of alpha from 0 to 1."""
    alphas = torch.linspace(0, 1, n_steps, device=z1.device).view(-1, 1, 1, 1)
    z = alphas * z1 + (1 - alphas) * z2
    return netG(z)
