"""Style: explicit layers, functional ReLU, torch.chunk, the PyTorch example's formulas."""
import torch
from torch import nn
import torch.nn.functional as F

latent_dim = 32
n_classes = 10


class VAE(nn.Module):
    def __init__(self, latent_dim=latent_dim, cond_dim=0):
        super().__init__()
        self.enc1 = nn.Linear(784 + cond_dim, 128)
        self.enc2 = nn.Linear(128, 64)
        self.enc3 = nn.Linear(64, 2 * latent_dim)
        self.dec1 = nn.Linear(latent_dim + cond_dim, 64)
        self.dec2 = nn.Linear(64, 128)
        self.dec3 = nn.Linear(128, 784)

    def encode(self, x):
        h = F.relu(self.enc1(x.view(-1, self.enc1.in_features)))
        h = F.relu(self.enc2(h))
        mu, logvar = torch.chunk(self.enc3(h), 2, dim=1)
        return mu, logvar

    def decode(self, z):
        return self.dec3(F.relu(self.dec2(F.relu(self.dec1(z)))))

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


class CVAE(VAE):
    def __init__(self, latent_dim=latent_dim):
        super().__init__(latent_dim, n_classes)

    def forward(self, x, y):
        y = y.view(-1, n_classes)
        mu, logvar = self.encode(torch.cat([x.view(-1, 784), y], 1))
        return self.decode(torch.cat([reparameterize(mu, logvar), y], 1)), mu, logvar


def reparameterize(mu, logvar):
    std = torch.exp(0.5 * logvar)
    eps = torch.randn_like(std)
    return eps.mul(std).add_(mu)


def kl_divergence(mu, logvar):
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1)


def vae_loss(x_hat, x, mu, logvar):
    recon = F.mse_loss(x_hat, x.view(-1, 784), reduction="sum")
    return recon + kl_divergence(mu, logvar).sum()


def vae_step(model, optimizer, x):
    model.train()
    optimizer.zero_grad()
    x_hat, mu, logvar = model(x)
    loss = vae_loss(x_hat, x, mu, logvar)
    loss.backward()
    optimizer.step()
    return loss.item()
