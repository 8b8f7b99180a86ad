"""Style: builder helpers, nn.ModuleDict branches, one-hot by indexing an identity matrix, fresh
random labels for the fakes, one BCE over real and fake scores with concatenated targets (real and
fake pairs go through D in separate calls, for D's BatchNorm)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

nz = 100
n_classes = 10
EPS = 1e-12


def onehot(labels, n_classes=n_classes):
    return torch.eye(n_classes, device=labels.device)[labels.long()].unsqueeze(-1).unsqueeze(-1)


def get_noise(batch_size, nz=nz, device="cpu"):
    return torch.empty(batch_size, nz, 1, 1, device=device).normal_()


def weights_init(m):
    name = type(m).__name__
    if name.startswith("Conv"):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif name.startswith("BatchNorm"):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def block(kind, c_in, c_out, bn, act, stride=2, padding=1):
    layer = {"conv": nn.Conv2d, "tconv": nn.ConvTranspose2d}[kind] if kind != "fc" else None
    layers = [nn.Linear(c_in, c_out, bias=not bn) if kind == "fc" else layer(c_in, c_out, 4, stride, padding,
                                                                             bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm1d(c_out) if kind == "fc" else nn.BatchNorm2d(c_out))
    layers.append({"lrelu": nn.LeakyReLU(0.2), "relu": nn.ReLU(), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh()}[act])
    return nn.Sequential(*layers)


class cDCGANDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.branches = nn.ModuleDict({"x": block("conv", 1, 64, False, "lrelu"),
                                       "y": block("conv", n_classes, 64, False, "lrelu")})
        self.trunk = nn.Sequential(block("conv", 128, 256, True, "lrelu"), block("conv", 256, 512, True, "lrelu"),
                                   block("conv", 512, 1, False, "sigmoid", stride=1, padding=0))

    def forward(self, x, y):
        y = y.reshape(len(y), n_classes, 1, 1).expand(-1, -1, *x.shape[2:])
        return self.trunk(torch.cat([self.branches["x"](x), self.branches["y"](y)], 1))


class cDCGANGenerator(nn.Module):
    def __init__(self, nz=nz):
        super().__init__()
        self.branches = nn.ModuleDict({"z": block("tconv", nz, 256, True, "relu", 1, 0),
                                       "y": block("tconv", n_classes, 256, True, "relu", 1, 0)})
        self.trunk = nn.Sequential(block("tconv", 512, 256, True, "relu"), block("tconv", 256, 128, True, "relu"),
                                   block("tconv", 128, 1, False, "tanh"))

    def forward(self, z, y):
        z = z.reshape(len(z), -1, 1, 1)
        y = y.reshape(len(y), -1, 1, 1)
        return self.trunk(torch.cat([self.branches["z"](z), self.branches["y"](y)], 1))


class cGANDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.branches = nn.ModuleList([block("fc", 1024, 1024, False, "lrelu"),
                                       block("fc", n_classes, 1024, False, "lrelu")])
        self.trunk = nn.Sequential(block("fc", 2048, 1024, True, "lrelu"), block("fc", 1024, 512, True, "lrelu"),
                                   block("fc", 512, 1, False, "sigmoid"))

    def forward(self, x, y):
        inputs = (x.flatten(1), y.flatten(1))
        return self.trunk(torch.cat([branch(v) for branch, v in zip(self.branches, inputs)], 1))


class cGANGenerator(nn.Module):
    def __init__(self, nz=nz):
        super().__init__()
        self.branches = nn.ModuleList([block("fc", nz, 256, True, "relu"), block("fc", n_classes, 256, True, "relu")])
        self.trunk = nn.Sequential(block("fc", 512, 512, True, "relu"), block("fc", 512, 1024, True, "relu"),
                                   block("fc", 1024, 1024, False, "tanh"))

    def forward(self, z, y):
        h = torch.cat([branch(v.flatten(1)) for branch, v in zip(self.branches, (z, y))], 1)
        return self.trunk(h).unflatten(1, (1, 32, 32))


def make_optimizers(netD, netG, lr=2e-4, betas=(0.5, 0.999)):
    return tuple(torch.optim.Adam(net.parameters(), lr, betas) for net in (netD, netG))


def _bce(p, t):
    return -(t * torch.log(p + EPS) + (1 - t) * torch.log(1 - p + EPS)).mean()


def d_step(netD, netG, optimizerD, x_real, y_real, nz=nz):
    b = len(x_real)
    y_fake = onehot(torch.randint(0, n_classes, (b,), device=x_real.device))
    x_fake = netG(get_noise(b, nz, x_real.device), y_fake).detach()
    optimizerD.zero_grad()
    scores = torch.cat([netD(x_real, y_real).reshape(-1), netD(x_fake, y_fake).reshape(-1)])
    targets = torch.cat([torch.ones(b), torch.zeros(b)]).to(scores)
    loss = _bce(scores.reshape(-1), targets)
    loss.backward()
    optimizerD.step()
    return loss.detach()


def g_step(netD, netG, optimizerG, y, nz=nz):
    optimizerG.zero_grad()
    fake = netG(get_noise(len(y), nz, y.device), y)
    scores = netD(fake, y)
    loss = F.binary_cross_entropy(scores, torch.ones_like(scores))
    loss.backward()
    optimizerG.step()
    return loss.detach()


def train_step(netD, netG, optimizerD, optimizerG, x_real, y_real, nz=nz, nb_update_D=1, nb_update_G=1):
    loss_d = [d_step(netD, netG, optimizerD, x_real, y_real, nz) for _ in range(nb_update_D)]
    loss_g = [g_step(netD, netG, optimizerG, y_real, nz) for _ in range(nb_update_G)]
    return loss_d[-1], loss_g[-1]
