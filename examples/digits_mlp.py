"""Handwritten digits with a multi-layer perceptron (about 97.5% test accuracy in ~2 s).

python examples/digits_mlp.py            # writes digits-mlp-loss.png
"""

import chainrule as cr

cr.nn.manual_seed(0)
train, test = cr.datasets.load("digits")  # 1437 / 360 images of 8×8 pixels, flattened to 64 features

model = cr.nn.MLP([64, 1024, 10], dropout=0.5)  # Linear(64, 1024), ReLU, Dropout, Linear(1024, 10)
opt = cr.optim.AdamW(model.parameters(), lr=2e-3)
history = cr.fit(
    model,
    cr.cross_entropy,
    opt,
    train,
    epochs=30,
    val_data=test,
    batch_size=64,
    scheduler=cr.optim.CosineAnnealingLR(opt, 30),
)

print("test:", cr.evaluate(model, test))
history.plot("digits-mlp-loss.png", title="digits MLP")
cr.save(model, "digits-mlp.npz")
