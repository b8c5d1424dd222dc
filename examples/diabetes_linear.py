"""Diabetes progression by linear regression trained with SGD, checked against least squares.

    python examples/diabetes_linear.py       # writes diabetes-loss.png

The test split has only 89 patients, so R² depends on the split: least squares
itself gets 0.35 on split 0 and 0.48 on split 7. SGD should land next to it.
"""

import sys

import numpy as np

import chainrule as cr

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 7
cr.nn.manual_seed(0)
train, test = cr.datasets.load("diabetes", seed=seed)  # 10 standardised features, target (N, 1)

model = cr.nn.Linear(10, 1)
history = cr.fit(
    model,
    cr.nn.MSELoss(),
    cr.optim.SGD(model.parameters(), lr=0.01),
    train,
    epochs=100,
    val_data=test,
    metrics=("r2",),
    progress=False,
)
print("test:", cr.evaluate(model, test, metrics=("r2",)))

# the closed-form answer for comparison: least squares with an intercept
A = np.hstack([train.X, np.ones((len(train), 1), np.float32)]).astype(np.float64)
coef, *_ = np.linalg.lstsq(A, train.y.astype(np.float64), rcond=None)
pred = np.hstack([test.X, np.ones((len(test), 1))]) @ coef
ols_r2 = 1 - np.sum((test.y - pred) ** 2) / np.sum((test.y - test.y.mean()) ** 2)
print(f"least squares on the same split: R² {ols_r2:.4f}")
history.plot("diabetes-loss.png", title="diabetes linear")
