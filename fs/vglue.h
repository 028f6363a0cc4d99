/*
 * vglue.h - the FUSE side of views: live.c hands every request on a view's node here, and
 * these turn the view's plain return values into FUSE replies.
 */
#ifndef STATEFS_VGLUE_H
#define STATEFS_VGLUE_H

#include "fs/live.h"
#include "fs/view.h"

/* The view serving top-level @name, or NULL. */
struct view *vglue_find(struct sfs *fs, const char *name);

int vglue_lookup(struct view *v, struct node *parent, const char *name, struct fuse_entry_param *e);
void vglue_forget(struct node *n, uint64_t nlookup);
void vglue_getattr(fuse_req_t req, struct node *n);
void vglue_setattr(fuse_req_t req, struct node *n, struct stat *attr, int valid,
		   struct fuse_file_info *fi);
void vglue_readlink(fuse_req_t req, struct node *n);
void vglue_opendir(fuse_req_t req, struct node *n, struct fuse_file_info *fi);
void vglue_readdir(fuse_req_t req, struct node *n, size_t size, off_t off, int plus);
void vglue_open(fuse_req_t req, struct node *n, struct fuse_file_info *fi);
void vglue_read(fuse_req_t req, struct node *n, size_t size, off_t off, struct fuse_file_info *fi);
void vglue_write_buf(fuse_req_t req, struct node *n, struct fuse_bufvec *in, off_t off,
		     struct fuse_file_info *fi);
void vglue_flush(fuse_req_t req, struct node *n, struct fuse_file_info *fi);
void vglue_release(fuse_req_t req, struct node *n, struct fuse_file_info *fi);

#endif
