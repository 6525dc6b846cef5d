"""The Model agent's skills: the model catalog and library, the search (budget, selection, tuning,
ensembles), the families' trainers and nets, distillation, compression, evaluation, the model
card, the model's files and size, and the registry of trained models."""
