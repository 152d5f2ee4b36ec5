"""The classifier family: the digit classifiers that measure samples (`kgen.quality`): images (MNIST) and spoken
digits (FSDD). Registers both and their presets from presets.toml."""

from kgen import zoo
from kgen.models.classifier.classifier_model import Classifier, DigitClassifier, SpokenDigitClassifier

zoo.register_family(__name__, {
    "digit_classifier": (
        DigitClassifier,
        "convolutional classifier of digit images, grey or binary (the image samples' judge in kgen.quality)",
    ),
    "spoken_digit_classifier": (
        SpokenDigitClassifier,
        "convolutional classifier of spoken digits on the log spectrogram of mu-law codes (the judge of WaveNet's "
        "digit-conditioned samples)",
    ),
})

__all__ = ["Classifier", "DigitClassifier", "SpokenDigitClassifier"]
