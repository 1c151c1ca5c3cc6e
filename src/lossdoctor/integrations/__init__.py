"""One-line live recording for training frameworks; each module imports its framework only when used.

- `lossdoctor.integrations.hf.LossdoctorCallback`: Hugging Face `Trainer`
- `lossdoctor.integrations.lightning.LossdoctorCallback`: Lightning `Trainer`
- `lossdoctor.integrations.keras.LossdoctorCallback`: Keras 3 `model.fit` (torch backend)
"""
