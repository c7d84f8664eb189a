-- A file asked for under a new path is recognised by its inode: a rename, or a hard link.
CREATE INDEX models_inode_idx ON models (inode, device);
