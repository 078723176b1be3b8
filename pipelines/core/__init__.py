"""What every part shares: errors, atomic files, logs, progress lines, the training device, safe
persistence of fitted objects, datasets and CSV reading, and the context a process runs folds in.

May import: nothing of this project.
"""
