"""Handwritten digits with a small convolutional network (about 98.9% test accuracy in ~7 s).

python examples/digits_cnn.py            # writes digits-cnn-loss.png
"""

import chainrule as cr
from chainrule import nn

nn.manual_seed(0)
train, test = cr.datasets.load("digits", image=True)  # (N, 1, 8, 8) images

model = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1),
    nn.BatchNorm2d(32),
    nn.ReLU(),
    nn.MaxPool2d(2),  # -> (N, 32, 4, 4)
    nn.Conv2d(32, 64, 3, padding=1),
    nn.BatchNorm2d(64),
    nn.ReLU(),
    nn.MaxPool2d(2),  # -> (N, 64, 2, 2)
    nn.Flatten(),
    nn.Dropout(0.3),
    nn.Linear(64 * 2 * 2, 10),
)
opt = cr.optim.AdamW(model.parameters(), lr=2e-3)
history = cr.fit(
    model,
    cr.cross_entropy,
    opt,
    train,
    epochs=20,
    val_data=test,
    batch_size=32,
    scheduler=cr.optim.CosineAnnealingLR(opt, 20),
)

print("test:", cr.evaluate(model, test))
history.plot("digits-cnn-loss.png", title="digits CNN")
cr.save(model, "digits-cnn.npz")
