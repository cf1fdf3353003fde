"""Drives the Python OpenCrate library for the interop tests (test/interop/python.test.ts).

Run from a folder holding `.opencrate/config.json` (a Python OpenCrate project); the snapshots go to `./snapshots`.
Each step is its own process, as a user re-running a script would be. Every step prints one JSON line on stdout
with what it saw, for the TypeScript side to compare.

  python python_driver.py first-run NAME          new, tag initial-run (after a reset, as a first run does)
  python python_driver.py resume-first NAME       last, tag initial-run
  python python_driver.py artifacts-run NAME      new, tag major-update: every log level, artifacts, backups,
                                                  custom handlers
  python python_driver.py load-last NAME [TAG]    last (with TAG if given): loads every artifact it finds and
                                                  prints their values; appends one log line
  python python_driver.py diverged-run NAME       new: JSON with NaN and infinities (json's default spelling), a
                                                  safetensors file with a complex64 (C64) tensor beside a float32 one,
                                                  soundfile's mu-law and RF64 WAVs, and PIL's float ("F") TIFF
  python python_driver.py new-run NAME [HOLD]     new, one log line; prints the project config as Python reads it (each
                                                  value's repr); with HOLD, once its counter names the version and before
                                                  it makes the folder, creates HOLD.held and waits for HOLD.go (another
                                                  process sets up meanwhile)
  python python_driver.py config-values-run NAME  adds values to the project config that JavaScript's JSON would
                                                  change (NaN, a 64-bit integer, 1.0, non-ASCII text), then new-run
  python python_driver.py named-run NAME          new, no tag: one log line and jsons/metrics.json {"name": NAME}
                                                  (NAME may be any name Python takes: "my run", "x@y", "exp:1")
"""

import json
import os
import sys
import time
import zipfile

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import opencrate as oc  # noqa: E402


def emit(**fields):
    print("RESULT " + json.dumps(fields, default=str), flush=True)


def first_run(name):
    oc.snapshot.setup(name=name, start="new", tag="initial-run")
    oc.snapshot.reset(confirm=True)
    oc.snapshot.version = None
    oc.snapshot.setup(name=name, start="new", tag="initial-run")
    oc.info(f"first run of {name} at {oc.snapshot.dir_path}")
    emit(version=oc.snapshot.version, version_name=oc.snapshot.version_name, dir_path=oc.snapshot.dir_path)


def resume_first(name):
    oc.snapshot.setup(name=name, start="last", tag="initial-run")
    oc.info(f"resumed {oc.snapshot.version_name}")
    emit(version=oc.snapshot.version, version_name=oc.snapshot.version_name)


class LineBoxes:
    """A custom handler: one numbered text file per save, under a folder at `self.path`."""

    def save(self, boxes, *args, **kwargs):
        os.makedirs(self.path, exist_ok=True)
        index = len(os.listdir(self.path))
        lines = [" ".join(str(box[k]) for k in ("x1", "y1", "x2", "y2")) for box in boxes]
        oc.io.text.save("\n".join(lines), os.path.join(self.path, f"boxes_{index}.txt"))

    def load(self, *args, **kwargs):
        if not os.path.exists(self.path):
            return []
        names = sorted(os.listdir(self.path), key=lambda n: int(n.split("_")[-1].split(".")[0]))
        return [oc.io.text.load(os.path.join(self.path, n)).split("\n") for n in names]


class PngZip:
    """A custom handler: a list of grey images as PNGs in one zip."""

    def save(self, images, *args, **kwargs):
        import cv2

        with zipfile.ZipFile(self.path, "w", zipfile.ZIP_DEFLATED) as archive:
            for index, image in enumerate(images):
                ok, encoded = cv2.imencode(".png", image)
                assert ok
                archive.writestr(f"image_{index:03d}.png", encoded.tobytes())

    def load(self, *args, **kwargs):
        with zipfile.ZipFile(self.path) as archive:
            return sorted(archive.namelist())


def artifacts_run(name):
    oc.snapshot.setup(name=name, start="new", tag="major-update")
    oc.info("an informational line")
    oc.debug("a debug line (filtered at INFO)")
    oc.warning("a warning line")
    oc.error("an error line")
    oc.critical("a critical line")
    oc.success("a success line")
    try:
        1 / 0
    except ZeroDivisionError:
        oc.exception("caught a division by zero")

    oc.snapshot.text("greeting.txt").save("Hello from Python OpenCrate!")
    oc.snapshot.json("data.json").save({"array": [10, 20, 30], "message": "from python"})
    oc.snapshot.yaml("config.yaml").save({"project": "interop", "version": 1.1, "settings": {"debug_mode": True}})
    oc.snapshot.csv("sample_data.csv").save(pd.DataFrame({"col_a": [100, 200], "col_b": [300, 400]}), index=False)
    # An ndarray goes through numpy's savetxt, whose "%.18e" spells each float with more digits than its shortest form.
    oc.snapshot.csv("numpy_floats.csv").save(np.array([[0.1, 1.0], [0.25, 1 / 3]], dtype=np.float64))

    figure = plt.figure(figsize=(3, 2))
    plt.plot(np.sin(np.linspace(0, 2 * np.pi, 20)))
    oc.snapshot.image("sine_wave_plot.png").save(figure)
    plt.close(figure)
    rng = np.random.default_rng(7)
    oc.snapshot.image("random_numpy_image.jpg").save(rng.integers(0, 256, (32, 48, 3), dtype=np.uint8))

    rate = 8000
    t = np.linspace(0.0, 0.25, int(rate * 0.25), endpoint=False)
    tone = (0.3 * np.iinfo(np.int16).max * np.sin(2 * np.pi * 220.0 * t)).astype(np.int16)
    oc.snapshot.audio("high_pitch_sine.wav").save(tone, rate, lib="soundfile")

    data = oc.snapshot.json("data.json")
    data.backup(tag="initial-version")
    data.save({"array": [10, 20, 30, 40], "message": "from python, edited"})
    data.backup(tag="edited")

    boxes = oc.snapshot.labels("bounding_boxes", handler=LineBoxes)
    boxes.save([{"x1": 1.0, "y1": 2.0, "x2": 3.0, "y2": 4.0}])
    boxes.save([{"x1": 5.0, "y1": 6.0, "x2": 7.0, "y2": 8.0}])
    archive = oc.snapshot.image_archive("images_archive.zip", handler=PngZip)
    archive.save([np.full((8, 8), i * 20, dtype=np.uint8) for i in range(5)])
    oc.info("all artifacts saved")
    emit(version=oc.snapshot.version, version_name=oc.snapshot.version_name, backups=sorted(data.list_backups()))


def load_last(name, tag=None):
    oc.snapshot.setup(name=name, start="last", tag=tag)
    loaded = {"version": oc.snapshot.version, "version_name": oc.snapshot.version_name}
    loaders = {
        "text": lambda a: a.load(),
        "json": lambda a: a.load(),
        "yaml": lambda a: a.load(),
        "csv": lambda a: a.load(lib="csv"),
        "image": lambda a: list(np.asarray(a.load()).shape),
        "audio": lambda a: _audio_summary(a.load(lib="soundfile")),
    }
    checkpoints = os.path.join(oc.snapshot.dir_path, "checkpoints")
    if os.path.isdir(checkpoints):
        from safetensors.numpy import load_file

        for file_name in sorted(os.listdir(checkpoints)):
            if file_name.endswith(".safetensors") and ".backup_" not in file_name:
                tensors = load_file(os.path.join(checkpoints, file_name))
                loaded[f"checkpoints/{file_name}"] = {key: list(value.shape) for key, value in sorted(tensors.items())}
    for kind, loader in loaders.items():
        folder = os.path.join(oc.snapshot.dir_path, kind + "s")
        if not os.path.isdir(folder):
            continue
        for file_name in sorted(os.listdir(folder)):
            if ".backup_" in file_name:
                continue
            loaded[f"{kind}s/{file_name}"] = loader(getattr(oc.snapshot, kind)(file_name))
    oc.info("python resumed this version")
    emit(**loaded)


def diverged_run(name):
    oc.snapshot.setup(name=name, start="new")
    oc.snapshot.json("metrics.json").save({"loss": float("nan"), "best": float("inf"), "worst": float("-inf"), "note": "NaN"})
    from safetensors.numpy import save_file

    checkpoints = os.path.join(oc.snapshot.dir_path, "checkpoints")
    os.makedirs(checkpoints, exist_ok=True)
    save_file(
        {"z": np.array([1 + 2j, 3 - 4j], dtype=np.complex64), "w": np.array([0.5, 1.5], dtype=np.float32)},
        os.path.join(checkpoints, "complex.safetensors"),
    )
    import soundfile
    from PIL import Image

    audios = os.path.join(oc.snapshot.dir_path, "audios")
    os.makedirs(audios, exist_ok=True)
    wave = (np.sin(np.arange(800) / 10) * 0.5).astype(np.float32)
    soundfile.write(os.path.join(audios, "mulaw.wav"), wave, 8000, subtype="ULAW")
    soundfile.write(os.path.join(audios, "rf64.wav"), wave, 8000, format="RF64", subtype="PCM_16")
    images = os.path.join(oc.snapshot.dir_path, "images")
    os.makedirs(images, exist_ok=True)
    Image.fromarray(np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)).save(os.path.join(images, "depth.tif"))
    emit(version=oc.snapshot.version, version_name=oc.snapshot.version_name)


def named_run(name):
    oc.snapshot.setup(name=name, start="new")
    oc.info(f"python run of {name}")
    oc.snapshot.json("metrics.json").save({"name": name})
    emit(version=oc.snapshot.version, version_name=oc.snapshot.version_name)


def new_run(name, hold=None):
    if hold is not None:
        add = oc.snapshot.logger.add

        def held_add(sink, *args, **kwargs):
            # A path is the run's log file: the counter is written, and the folder is made only by this call.
            if isinstance(sink, str):
                open(hold + ".held", "w").close()
                deadline = time.monotonic() + 120
                while not os.path.exists(hold + ".go"):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{hold}.go never appeared")
                    time.sleep(0.02)
            return add(sink, *args, **kwargs)

        oc.snapshot.logger.add = held_add
    oc.snapshot.setup(name=name, start="new")
    oc.info(f"python's run in {oc.snapshot.version_name}")
    with open(os.path.join(".opencrate", "config.json")) as file:
        config = json.load(file)
    emit(version=oc.snapshot.version, version_name=oc.snapshot.version_name, config={key: repr(value) for key, value in config.items()})


def config_values_run(name):
    path = os.path.join(".opencrate", "config.json")
    with open(path) as file:
        config = json.load(file)
    config.update(
        {
            "best_loss": float("nan"),
            "bounds": [float("-inf"), float("inf")],
            "seed": 12345678901234567890,
            "lr": 1.0,
            "owner": "D\u00e9tecteur",
            "nested": {"snapshot_version": {name: 99}},
        }
    )
    # As Python OpenCrate writes it (json.dump's defaults: NaN allowed, ASCII only).
    with open(path, "w") as file:
        json.dump(config, file, indent=4)
    new_run(name)


def _audio_summary(result):
    data = np.asarray(result["data"])
    return {
        "sample_rate": int(result["sample_rate"]),
        "channels": int(result["channels"]),
        "frames": int(data.shape[0]),
        "peak": round(float(np.max(np.abs(data))), 4),
    }


if __name__ == "__main__":
    command, snapshot_name, *rest = sys.argv[1:]
    steps = {
        "first-run": first_run,
        "resume-first": resume_first,
        "artifacts-run": artifacts_run,
        "load-last": load_last,
        "diverged-run": diverged_run,
        "new-run": new_run,
        "config-values-run": config_values_run,
        "named-run": named_run,
    }
    steps[command](snapshot_name, *rest)
