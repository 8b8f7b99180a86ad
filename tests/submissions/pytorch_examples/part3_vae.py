"""Style: pytorch/examples' vae/main.py. Two heads fc21 (mu) and fc22 (logvar) instead of one layer
split in two; functional ReLU; the loss with F.mse_loss(reduction="sum") and the KL summed inline."""
import torch
from torch import nn
from torch.nn import functional as F

latent_dim = 32
n_classes = 10


class VAE(nn.Module):
    def __init__(self, latent_dim=latent_dim, cond_dim=0):
        super().__init__()
        self.fc1 = nn.Linear(784 + cond_dim, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc21 = nn.Linear(64, latent_dim)
        self.fc22 = nn.Linear(64, latent_dim)
        self.fc3 = nn.Linear(latent_dim + cond_dim, 64)
        self.fc4 = nn.Linear(64, 128)
        self.fc5 = nn.Linear(128, 784)

    def encode(self, x):
        h1 = F.relu(self.fc2(F.relu(self.fc1(x.view(x.size(0), -1)))))
        return self.fc21(h1), self.fc22(h1)

    def decode(self, z):
        return self.fc5(F.relu(self.fc4(F.relu(self.fc3(z)))))

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


class CVAE(VAE):
    def __init__(self, latent_dim=latent_dim):
        super().__init__(latent_dim, n_classes)

    def forward(self, x, y):
        y = y.view(y.size(0), -1)
        mu, logvar = self.encode(torch.cat([x.view(x.size(0), -1), y], 1))
        return self.decode(torch.cat([reparameterize(mu, logvar), y], 1)), mu, logvar


def reparameterize(mu, logvar):
    std = torch.exp(0.5 * logvar)
    eps = torch.randn_like(std)
    return mu + eps * std


def kl_divergence(mu, logvar):
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), 1)


def vae_loss(x_hat, x, mu, logvar):
    MSE = F.mse_loss(x_hat, x.view(-1, 784), reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return MSE + KLD


def vae_step(model, optimizer, x):
    optimizer.zero_grad()
    recon_batch, mu, logvar = model(x)
    loss = vae_loss(recon_batch, x, mu, logvar)
    loss.backward()
    optimizer.step()
    return loss.item()
