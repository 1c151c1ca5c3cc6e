"""A ReLU RNN over 50-step sequences (SGD with momentum, no clipping) logging the loss and the gradient norm to
TensorBoard under runs/rnn; 630 steps."""

import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter

torch.manual_seed(2)
T, N = 50, 2000
X = torch.randn(N, T, 1)
y = X[:, -10:, 0].sum(1, keepdim=True) / 10**0.5  # the sum of the last 10 inputs


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNN(1, 64, nonlinearity="relu", batch_first=True)
        self.fc = nn.Linear(64, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h = self.rnn(x)
        return self.fc(h[-1])


model = Model()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
crit = nn.MSELoss()
writer = SummaryWriter("runs/rnn")
step = 0
for _epoch in range(10):
    perm = torch.randperm(N)
    for i in range(0, N, 32):
        idx = perm[i:i + 32]
        opt.zero_grad()
        loss = crit(model(X[idx]), y[idx])
        loss.backward()
        grad_norm = torch.sqrt(sum((p.grad**2).sum() for p in model.parameters()))
        opt.step()
        writer.add_scalar("Loss/train", loss.item(), step)
        writer.add_scalar("grad_norm", grad_norm.item(), step)
        step += 1
writer.close()
