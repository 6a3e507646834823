/* COM1 output and a small printf for test guests. */
#include "guest.h"

#define LSR_THRE 0x20

void serial_putc(char c)
{
	while (!(inb(COM1_PORT + 5) & LSR_THRE))
		;
	outb(COM1_PORT, (uint8_t)c);
}

void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

static int put_unsigned(unsigned long long v, unsigned base, int width, char pad)
{
	char digits[24];
	int n = 0, written = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	for (; width > n; width--, written++)
		serial_putc(pad);
	while (n--) {
		serial_putc(digits[n]);
		written++;
	}
	return written;
}

int guest_vprintf(const char *fmt, va_list ap)
{
	int written = 0;

	for (; *fmt; fmt++) {
		unsigned long long u;
		long long s;
		int longs = 0, width = 0;
		char pad = ' ';

		if (*fmt != '%') {
			serial_putc(*fmt);
			written++;
			continue;
		}
		fmt++;
		if (*fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			longs++;
		switch (*fmt) {
		case 'd':
		case 'i':
			s = longs ? va_arg(ap, long long) : va_arg(ap, int);
			if (s < 0) {
				serial_putc('-');
				written++;
				u = (unsigned long long)-(s + 1) + 1;
			} else {
				u = (unsigned long long)s;
			}
			written += put_unsigned(u, 10, width, pad);
			break;
		case 'u':
		case 'x':
			u = longs ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
			written += put_unsigned(u, *fmt == 'x' ? 16 : 10, width, pad);
			break;
		case 'p':
			serial_puts("0x");
			written += 2 + put_unsigned((uintptr_t)va_arg(ap, void *), 16, width, pad);
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);

			str = str ? str : "(null)";
			serial_puts(str);
			written += (int)strlen(str);
			break;
		}
		case 'c':
			serial_putc((char)va_arg(ap, int));
			written++;
			break;
		case '%':
			serial_putc('%');
			written++;
			break;
		default:
			return written; /* unknown conversion: stop rather than misread va_args */
		}
	}
	return written;
}

int guest_printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = guest_vprintf(fmt, ap);
	va_end(ap);
	return n;
}
