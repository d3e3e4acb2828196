"""segbench plugin: torchvision Mask R-CNN."""
