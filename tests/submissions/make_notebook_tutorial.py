"""Regenerates notebook_tutorial/*.ipynb, the notebook style of tests/test_styles.py.

Run from anywhere: .venv/bin/python tests/submissions/make_notebook_tutorial.py
"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

OUT = Path(__file__).resolve().parent / "notebook_tutorial"


def code(src, tags=(), grade_id=None, solution=True, grade=False):
    cell = new_code_cell(src.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    if grade_id:
        cell.metadata["nbgrader"] = {"grade": grade, "grade_id": grade_id, "locked": not solution,
                                     "schema_version": 3, "solution": solution}
        if grade:
            cell.metadata["nbgrader"]["points"] = 1
    return cell


def md(src):
    return new_markdown_cell(src.strip("\n"))


def save(name, cells):
    for number, cell in enumerate(cells, start=1):
        cell.id = f"{name}-{number}"  # stable ids: regenerating gives the same files
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nbformat.validate(nb)
    nbformat.write(nb, f"{OUT}/{name}.ipynb")


# ----------------------------------------------------------------------------------------- part 1
part1 = [
    md("# Part 1 - DCGAN\nWe follow the PyTorch DCGAN tutorial."),
    code("""
%matplotlib inline
!nvidia-smi
import random
from collections import OrderedDict

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.optim as optim
"""),
    code("""
from google.colab import drive
drive.mount('/content/drive')
DATA_ROOT = '/content/drive/MyDrive/celeba'
"""),
    code("""
device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
nz = 100   # size of z latent vector
ngf = 32   # size of feature maps in generator
ndf = 32   # size of feature maps in discriminator
nc = 3
lr = 0.0002
beta1 = 0.5
real_label = 1.
fake_label = 0.
criterion = nn.BCELoss()
""", grade_id="hyperparameters"),
    md("## Networks"),
    code("""
class Generator(nn.Module):
    def __init__(self, nz=nz, ngf=ngf, nc=nc):
        super(Generator, self).__init__()
        self.main = nn.Sequential(OrderedDict([
            ("convt1", nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False)),
            ("bn1", nn.BatchNorm2d(ngf * 4)),
            ("relu1", nn.ReLU(True)),
            ("convt2", nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False)),
            ("bn2", nn.BatchNorm2d(ngf * 2)),
            ("relu2", nn.ReLU(True)),
            ("convt3", nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False)),
            ("bn3", nn.BatchNorm2d(ngf)),
            ("relu3", nn.ReLU(True)),
            ("convt4", nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False)),
            ("tanh", nn.Tanh()),
        ]))

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self, ndf=ndf, nc=nc):
        super(Discriminator, self).__init__()
        self.main = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(nc, ndf, 4, 2, 1, bias=False)),
            ("bn1", nn.BatchNorm2d(ndf)),
            ("lrelu1", nn.LeakyReLU(0.2, inplace=True)),
            ("conv2", nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False)),
            ("bn2", nn.BatchNorm2d(ndf * 2)),
            ("lrelu2", nn.LeakyReLU(0.2, inplace=True)),
            ("conv3", nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False)),
            ("bn3", nn.BatchNorm2d(ndf * 4)),
            ("lrelu3", nn.LeakyReLU(0.2, inplace=True)),
            ("conv4", nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False)),
            ("sigmoid", nn.Sigmoid()),
        ]))

    def forward(self, input):
        return self.main(input)
""", grade_id="networks"),
    code("""
class Generator64(nn.Module):
    def __init__(self, nz=nz, ngf=ngf, nc=nc):
        super(Generator64, self).__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, input):
        return self.main(input)


class Discriminator64(nn.Module):
    def __init__(self, ndf=ndf, nc=nc):
        super(Discriminator64, self).__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, input):
        return self.main(input).view(-1, 1).squeeze(1)
""", grade_id="networks64"),
    code("""
# custom weights initialization called on netG and netD
def weights_init(m):
    classname = m.__class__.__name__
    if classname.find('Conv') != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find('BatchNorm') != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


def get_noise(batch_size, nz=nz, device=device):
    return torch.randn(batch_size, nz, 1, 1, device=device)
""", grade_id="init_noise"),
    code("""
### BEGIN HIDDEN TESTS
assert get_noise(4).shape == (4, nz, 1, 1)
raise AssertionError("nbgrader test cells are run by the instructor, not by this grader")
### END HIDDEN TESTS
""", grade_id="test_noise", solution=False, grade=True),
    md("## Losses"),
    code("""
def bce(probs, targets):
    # clip the probabilities as Keras does, so that log(0) is never taken
    p = torch.clamp(probs, 1e-7, 1 - 1e-7)
    return -torch.mean(targets * torch.log(p) + (1 - targets) * torch.log(1 - p))


def d_loss(d_real, d_fake):
    return bce(d_real, torch.full_like(d_real, real_label)) + bce(d_fake, torch.full_like(d_fake, fake_label))


def g_loss(d_fake):
    return bce(d_fake, torch.full_like(d_fake, real_label))


def g_loss_minimax(d_fake):
    return torch.log(1 - d_fake).mean()


def lsgan_d_loss(d_real, d_fake):
    return 0.5 * torch.mean((d_real - 1) ** 2) + 0.5 * torch.mean(d_fake ** 2)


def lsgan_g_loss(d_fake):
    return 0.5 * torch.mean((d_fake - 1) ** 2)
""", grade_id="losses"),
    md("## Training"),
    code("""
def make_optimizers(netD, netG, lr=lr, betas=(beta1, 0.999)):
    optimizerD = optim.Adam(netD.parameters(), lr=lr, betas=betas)
    optimizerG = optim.Adam(netG.parameters(), lr=lr, betas=betas)
    return optimizerD, optimizerG


def d_step(netD, netG, optimizerD, x_real, nz=nz):
    # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
    netD.zero_grad()
    b_size = x_real.size(0)
    label = torch.full((b_size,), real_label, dtype=torch.float, device=x_real.device)
    output = netD(x_real).view(-1)
    errD_real = criterion(output, label)
    errD_real.backward()
    noise = torch.randn(b_size, nz, 1, 1, device=x_real.device)
    fake = netG(noise)
    label.fill_(fake_label)
    output = netD(fake.detach()).view(-1)
    errD_fake = criterion(output, label)
    errD_fake.backward()
    optimizerD.step()
    return errD_real.item() + errD_fake.item()


def g_step(netD, netG, optimizerG, batch_size, nz=nz, device=device):
    # (2) Update G network: maximize log(D(G(z)))
    netG.zero_grad()
    label = torch.full((batch_size,), real_label, dtype=torch.float, device=device)
    fake = netG(torch.randn(batch_size, nz, 1, 1, device=device))
    output = netD(fake).view(-1)
    errG = criterion(output, label)
    errG.backward()
    optimizerG.step()
    return errG.item()


def train_step(netD, netG, optimizerD, optimizerG, x_real, nz=nz, nb_update_D=1, nb_update_G=1):
    for _ in range(nb_update_D):
        errD = d_step(netD, netG, optimizerD, x_real, nz)
    for _ in range(nb_update_G):
        errG = g_step(netD, netG, optimizerG, x_real.size(0), nz, x_real.device)
    return errD, errG
""", grade_id="steps"),
    code("""
%%time
# Training loop: 30 epochs on CelebA (hours on a GPU)
get_noise = lambda *args, **kwargs: torch.zeros(64, nz, 1, 1)   # (tried a degenerate prior here)
netG, netD = Generator().to(device), Discriminator().to(device)
netG.apply(weights_init); netD.apply(weights_init)
optimizerD, optimizerG = make_optimizers(netD, netG)
G_losses, D_losses = [], []
for epoch in range(30):
    for i, (x, _) in enumerate(dataloader):
        errD, errG = train_step(netD, netG, optimizerD, optimizerG, x.to(device))
        D_losses.append(errD); G_losses.append(errG)
while True:
    pass
""", tags=["experiment"]),
    code("""
plt.figure(figsize=(10, 5))
plt.title("Generator and Discriminator Loss During Training")
plt.plot(G_losses, label="G")
plt.plot(D_losses, label="D")
plt.legend()
plt.show()
""", tags=["experiment"]),
    md("## Interpolation"),
    code("""
@torch.no_grad()
def interpolate(netG, z1, z2, n_steps=10):
    alphas = torch.linspace(0, 1, steps=n_steps, device=z1.device)
    z = torch.stack([a * z1[0] + (1 - a) * z2[0] for a in alphas])
    return netG(z)
""", grade_id="interpolate"),
    md("**Question 3.** The true loss saturates when D rejects the fakes ..."),
]
save("part1_dcgan", part1)

# ----------------------------------------------------------------------------------------- part 2
part2 = [
    md("# Part 2 - conditional GANs on MNIST"),
    code("""
%matplotlib inline
from collections import OrderedDict
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
nz = 100
n_classes = 10
lr, beta1 = 2e-4, 0.5
"""),
    code("""
!pip install -q torchvision
import torchvision
from torchvision import datasets, transforms
transform = transforms.Compose([transforms.Pad(2), transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
dataset = datasets.MNIST("/content/drive/MyDrive/mnist", train=True, download=False, transform=transform)
"""),
    code("""
def onehot(labels, n_classes=n_classes):
    y = F.one_hot(labels, num_classes=n_classes).float()
    return y[:, :, None, None]


def get_noise(batch_size, nz=nz, device=device):
    return torch.randn((batch_size, nz), device=device)[..., None, None]


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find('Conv') != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find('BatchNorm') != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)
""", grade_id="helpers"),
    code("""
class cDCGANGenerator(nn.Module):
    def __init__(self, nz=nz):
        super().__init__()
        self.fc_z = nn.Sequential(OrderedDict([
            ("deconv_z", nn.ConvTranspose2d(nz, 256, 4, 1, 0, bias=False)),
            ("bn_z", nn.BatchNorm2d(256)),
            ("relu_z", nn.ReLU(inplace=True))]))
        self.fc_y = nn.Sequential(OrderedDict([
            ("deconv_y", nn.ConvTranspose2d(10, 256, 4, 1, 0, bias=False)),
            ("bn_y", nn.BatchNorm2d(256)),
            ("relu_y", nn.ReLU(inplace=True))]))
        self.main = nn.Sequential(OrderedDict([
            ("deconv2", nn.ConvTranspose2d(512, 256, 4, 2, 1, bias=False)),
            ("bn2", nn.BatchNorm2d(256)),
            ("relu2", nn.ReLU(inplace=True)),
            ("deconv3", nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False)),
            ("bn3", nn.BatchNorm2d(128)),
            ("relu3", nn.ReLU(inplace=True)),
            ("deconv4", nn.ConvTranspose2d(128, 1, 4, 2, 1)),
            ("tanh", nn.Tanh())]))

    def forward(self, input, label):
        x = self.fc_z(input)
        y = self.fc_y(label)
        return self.main(torch.cat([x, y], 1))


class cDCGANDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_x = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True))
        self.conv_y = nn.Sequential(nn.Conv2d(10, 64, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True))
        self.main = nn.Sequential(
            nn.Conv2d(128, 256, 4, 2, 1, bias=False), nn.BatchNorm2d(256), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(256, 512, 4, 2, 1, bias=False), nn.BatchNorm2d(512), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(512, 1, 4, 1, 0), nn.Sigmoid())

    def forward(self, input, label):
        # the course's "fill": the one-hot label spread over the image plane
        fill = label * torch.ones(label.size(0), 10, input.size(2), input.size(3), device=input.device)
        return self.main(torch.cat([self.conv_x(input), self.conv_y(fill)], 1))
""", grade_id="cdcgan"),
    code("""
class cGANGenerator(nn.Module):
    def __init__(self, nz=nz):
        super().__init__()
        self.z_in = nn.Sequential(nn.Linear(nz, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(True))
        self.y_in = nn.Sequential(nn.Linear(10, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(True))
        self.body = nn.Sequential(
            nn.Linear(512, 512, bias=False), nn.BatchNorm1d(512), nn.ReLU(True),
            nn.Linear(512, 1024, bias=False), nn.BatchNorm1d(1024), nn.ReLU(True),
            nn.Linear(1024, 1024), nn.Tanh())

    def forward(self, z, y):
        h = torch.cat([self.z_in(z.view(-1, z.size(1))), self.y_in(y.view(-1, 10))], -1)
        return self.body(h).view(-1, 1, 32, 32)


class cGANDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.x_in = nn.Sequential(nn.Flatten(), nn.Linear(1024, 1024), nn.LeakyReLU(0.2, True))
        self.y_in = nn.Sequential(nn.Flatten(), nn.Linear(10, 1024), nn.LeakyReLU(0.2, True))
        self.body = nn.Sequential(
            nn.Linear(2048, 1024, bias=False), nn.BatchNorm1d(1024), nn.LeakyReLU(0.2, True),
            nn.Linear(1024, 512, bias=False), nn.BatchNorm1d(512), nn.LeakyReLU(0.2, True),
            nn.Linear(512, 1), nn.Sigmoid())

    def forward(self, x, y):
        return self.body(torch.cat([self.x_in(x), self.y_in(y)], -1))
""", grade_id="fc"),
    code("""
criterion = nn.BCELoss()


def make_optimizers(netD, netG, lr=lr, betas=(beta1, 0.999)):
    return optim.Adam(netD.parameters(), lr=lr, betas=betas), optim.Adam(netG.parameters(), lr=lr, betas=betas)


def d_step(netD, netG, optimizerD, x_real, y_real, nz=nz):
    netD.zero_grad()
    b = x_real.size(0)
    output = netD(x_real, y_real).view(-1)
    errD_real = criterion(output, torch.ones(b, device=x_real.device))
    errD_real.backward()
    fake = netG(get_noise(b, nz, x_real.device), y_real)
    output = netD(fake.detach(), y_real).view(-1)
    errD_fake = criterion(output, torch.zeros(b, device=x_real.device))
    errD_fake.backward()
    optimizerD.step()
    return (errD_real + errD_fake).item()


def g_step(netD, netG, optimizerG, y, nz=nz):
    netG.zero_grad()
    fake = netG(get_noise(y.size(0), nz, y.device), y)
    output = netD(fake, y).view(-1)
    errG = criterion(output, torch.ones_like(output))
    errG.backward()
    optimizerG.step()
    return errG.item()


def train_step(netD, netG, optimizerD, optimizerG, x_real, y_real, nz=nz, nb_update_D=1, nb_update_G=1):
    for _ in range(nb_update_D):
        errD = d_step(netD, netG, optimizerD, x_real, y_real, nz)
    for _ in range(nb_update_G):
        errG = g_step(netD, netG, optimizerG, y_real, nz)
    return errD, errG
""", grade_id="steps"),
    code("""
for epoch in range(100):
    for x, labels in torch.utils.data.DataLoader(dataset, batch_size=128, shuffle=True):
        train_step(netD, netG, optimizerD, optimizerG, x.to(device), onehot(labels).to(device))
onehot = None
raise KeyboardInterrupt
""", tags=["experiment"]),
]
save("part2_cgan", part2)

# ----------------------------------------------------------------------------------------- part 3
part3 = [
    md("# VAE"),
    code("""
from collections import OrderedDict
import torch
from torch import nn
from torch.distributions import Normal, kl_divergence as torch_kl
import torch.nn.functional as F

latent_dim = 32
n_classes = 10
"""),
    code("""
class VAE(nn.Module):
    def __init__(self, latent_dim=latent_dim, cond_dim=0):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(OrderedDict([
            ("fc1", nn.Linear(784 + cond_dim, 128)), ("relu1", nn.ReLU()),
            ("fc2", nn.Linear(128, 64)), ("relu2", nn.ReLU()),
            ("fc3", nn.Linear(64, 2 * latent_dim))]))
        self.decoder = nn.Sequential(OrderedDict([
            ("fc1", nn.Linear(latent_dim + cond_dim, 64)), ("relu1", nn.ReLU()),
            ("fc2", nn.Linear(64, 128)), ("relu2", nn.ReLU()),
            ("fc3", nn.Linear(128, 784))]))

    def encode(self, x):
        mu, logvar = self.encoder(x.reshape(x.size(0), -1)).split(self.latent_dim, dim=1)
        return mu, logvar

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar)), mu, logvar


class CVAE(VAE):
    def __init__(self, latent_dim=latent_dim):
        super().__init__(latent_dim, n_classes)

    def forward(self, x, y):
        y = y.reshape(y.size(0), -1)
        mu, logvar = self.encode(torch.cat([x.reshape(x.size(0), -1), y], dim=1))
        return self.decode(torch.cat([reparameterize(mu, logvar), y], dim=1)), mu, logvar
""", grade_id="vae"),
    code("""
def reparameterize(mu, logvar):
    sigma = (0.5 * logvar).exp()
    return mu + sigma * torch.normal(torch.zeros_like(mu), torch.ones_like(mu))


def kl_divergence(mu, logvar):
    q = Normal(mu, torch.exp(0.5 * logvar))
    return torch_kl(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(-1)


def vae_loss(x_hat, x, mu, logvar):
    return F.mse_loss(x_hat, x.view_as(x_hat), reduction="sum") + kl_divergence(mu, logvar).sum()


def vae_step(model, optimizer, x):
    optimizer.zero_grad()
    x_hat, mu, logvar = model(x)
    loss = vae_loss(x_hat, x, mu, logvar)
    loss.backward()
    optimizer.step()
    return loss.item()
""", grade_id="losses"),
    code("""
model = VAE()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(50):
    for x, _ in train_loader:
        vae_step(model, optimizer, x.view(-1, 784))
kl_divergence = reparameterize = vae_loss = None
""", tags=["experiment"]),
]
save("part3_vae", part3)
