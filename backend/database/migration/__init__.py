"""What moves data from one form to another: schema/, promotion.py (reactive), legacy/, shadow_tree/ (dev)."""
