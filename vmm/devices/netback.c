/* Network backends: `--net SPEC` parsing, default MACs, and opening the backend a spec names. */
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "kvmlab/netback.h"

static int net_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int net_mac_parse(const char *s, size_t len, uint8_t mac[NET_MAC_LEN], struct errbuf *e)
{
	if (len != 3 * NET_MAC_LEN - 1)
		goto bad;
	for (unsigned i = 0; i < NET_MAC_LEN; i++) {
		int hi = net_hex(s[3 * i]), lo = net_hex(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i + 1 < NET_MAC_LEN && s[3 * i + 2] != ':'))
			goto bad;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	if (mac[0] & 1)
		return err_set(e,
			       "--net: mac=%.*s is a multicast address (the low bit of the first "
			       "byte is set)",
			       (int)len, s);
	return 0;
bad:
	return err_set(e, "--net: mac=%.*s is not a MAC address like 02:00:00:00:00:01", (int)len,
		       s);
}

int net_spec_parse(const char *spec, struct net_spec *out, struct errbuf *e)
{
	const char *p, *comma, *eq;
	size_t len, max;

	memset(out, 0, sizeof(*out));
	if (!strncmp(spec, "tap=", 4)) {
		out->kind = NET_TAP;
		p = spec + 4;
		max = IFNAMSIZ - 1;
	} else if (!strncmp(spec, "sock=", 5)) {
		out->kind = NET_SOCK;
		p = spec + 5;
		max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	} else {
		return err_set(e, "--net: '%.64s' is neither tap=NAME nor sock=PATH", spec);
	}
	comma = strchr(p, ',');
	len = comma ? (size_t)(comma - p) : strlen(p);
	if (!len)
		return err_set(e, "--net: '%.64s' names no %s", spec,
			       out->kind == NET_TAP ? "interface" : "socket path");
	if (len > max)
		return err_set(e, "--net: '%.64s...' is longer than %zu characters", p, max);
	memcpy(out->where, p, len);
	while (comma) {
		p = comma + 1;
		comma = strchr(p, ',');
		len = comma ? (size_t)(comma - p) : strlen(p);
		eq = memchr(p, '=', len);
		if (eq && eq - p == 3 && !strncmp(p, "mac", 3)) {
			if (out->has_mac)
				return err_set(e, "--net: mac= given twice in '%.64s'", spec);
			if (net_mac_parse(eq + 1, len - 4, out->mac, e))
				return -1;
			out->has_mac = true;
		} else {
			return err_set(
			    e, "--net: unknown option '%.*s' (takes: mac=XX:XX:XX:XX:XX:XX)",
			    (int)(len > 64 ? 64 : len), p);
		}
	}
	return 0;
}

void net_mac_default(const char *vm_id, unsigned index, uint8_t mac[NET_MAC_LEN])
{
	uint32_t h = 2166136261u;

	for (const char *s = vm_id ? vm_id : ""; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	for (unsigned i = 0; i < 4; i++)
		h = (h ^ ((index >> (8 * i)) & 0xff)) * 16777619u;
	mac[0] = 0x02; /* locally administered, unicast */
	mac[1] = 0x6b; /* 'k' */
	for (unsigned i = 0; i < 4; i++)
		mac[2 + i] = (uint8_t)(h >> (8 * i));
}

struct netback *netback_open(const struct net_spec *spec, struct errbuf *e)
{
	switch (spec->kind) {
	case NET_TAP:
		return netback_tap_open(spec->where, e);
	case NET_SOCK:
		return netback_sock_open(spec->where, e);
	}
	err_set(e, "--net: unknown backend kind %d", (int)spec->kind);
	return NULL;
}
