/* The virtio device models a run configuration can ask for: one line per model. */
#include "kvmlab/virtio.h"

const struct virtio_device_type *const virtio_device_types[] = {
    &virtio_blk_type, /* first: the first --disk is the first transport, /dev/vda */
    &virtio_rng_type, &virtio_net_type, &virtio_balloon_type, NULL,
};

int virtio_attach_configured(struct machine *m, const struct run_config *rc, struct errbuf *e)
{
	for (const struct virtio_device_type *const *t = virtio_device_types; *t; t++)
		if ((*t)->attach(m, rc, e))
			return -1;
	return 0;
}
