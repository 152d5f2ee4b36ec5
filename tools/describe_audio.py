"""Describe WAV files with numbers, side by side with real Free Spoken Digit recordings.

A listening test cannot be automated, so this prints what can be measured about how generated audio would sound:
loudness (RMS, peak), how much of it is voiced-level signal rather than near-silence, how much of the energy lies
in the speech band (80 Hz - 1 kHz, where the pitch and first formant of speech lie) and above 2 kHz (hiss and
fricatives), the spectral centroid, and the zero-crossing rate (high for noise, low for voiced sound). The same
figures for real test recordings of the same digits are printed as a reference.

    KGEN_DATA_DIR=../shared/data python tools/describe_audio.py runs/wavenet_fsdd/samples/*.wav
"""

import argparse
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FRAME = 256  # 32 ms at 8 kHz


def describe(wave, rate):
    """Measured figures of a float waveform in [-1, 1]: a dict."""
    wave = np.asarray(wave, dtype="float64")
    n = len(wave) // FRAME * FRAME
    frames = wave[:n].reshape(-1, FRAME) if n else wave[None, :]
    frame_rms = np.sqrt(np.mean(frames**2, axis=1))
    spectrum = np.abs(np.fft.rfft(wave - wave.mean())) ** 2
    freqs = np.fft.rfftfreq(len(wave), 1.0 / rate)
    total = spectrum.sum() + 1e-20
    signs = np.signbit(wave)
    return {
        "seconds": len(wave) / rate,
        "rms": float(np.sqrt(np.mean(wave**2))),
        "peak": float(np.max(np.abs(wave))),
        "active": float(np.mean(frame_rms > 0.02)),  # frames above about -34 dBFS
        "speech_band": float(spectrum[(freqs >= 80) & (freqs <= 1000)].sum() / total),
        "above_2k": float(spectrum[freqs >= 2000].sum() / total),
        "centroid_hz": float((freqs * spectrum).sum() / total),
        "zcr": float(np.mean(signs[1:] != signs[:-1])),
    }


COLUMNS = ("seconds", "rms", "peak", "active", "speech_band", "above_2k", "centroid_hz", "zcr")
HEADER = "| file | s | RMS | peak | active frames | energy 80 Hz-1 kHz | energy > 2 kHz | centroid (Hz) | zero crossings |"


def _row(name, d):
    return (f"| {name} | {d['seconds']:.2f} | {d['rms']:.3f} | {d['peak']:.2f} | {100 * d['active']:.0f}% | "
            f"{100 * d['speech_band']:.0f}% | {100 * d['above_2k']:.0f}% | {d['centroid_hz']:.0f} | {d['zcr']:.3f} |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", help="WAV files")
    p.add_argument("--reference-split", default="test", help="FSDD split for the real-recording reference rows")
    p.add_argument("--no-reference", action="store_true")
    args = p.parse_args(argv)

    from kgen import audio

    print(HEADER)
    print("| --- " * 9 + "|")
    for f in args.files:
        wave, rate = audio.read_wav(f)
        print(_row(Path(f).name, describe(wave, rate)))
    if args.no_reference:
        return 0
    import kgen

    waves, digits, _ = kgen.data.load_arrays("fsdd", split=args.reference_split)
    wanted = sorted({int(m.group(1)) for f in args.files if (m := re.search(r"label(\d+)", Path(f).name))})
    per_digit = []
    for digit in wanted or range(10):
        stats = [describe(w.astype("float64"), 8000) for w, d in zip(waves, digits) if d == digit]
        per_digit.append({k: float(np.median([s[k] for s in stats])) for k in COLUMNS})
        print(_row(f"real digit {digit} (median of {len(stats)} {args.reference_split} recordings)", per_digit[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
