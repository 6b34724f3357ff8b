// SPDX-License-Identifier: GPL-2.0-only
// The in-tree vdev → (minor, name) translation and the minor registry; see
// vdev.hpp. Linux major numbers below are ABI (include/uapi/linux/major.h).
#include "blkfront/vdev.hpp"
#include "xbc/xs_value.hpp"

namespace xbc::blkfront {

namespace {

constexpr uint32_t kExtShift = 28;
constexpr uint32_t kExtended = 1u << kExtShift;

constexpr uint32_t kIde0Major = 3;
constexpr uint32_t kIde1Major = 22;
constexpr uint32_t kScsiDisk0Major = 8;
constexpr uint32_t kScsiDisk1Major = 65;
constexpr uint32_t kScsiDisk7Major = 71;
constexpr uint32_t kScsiDisk8Major = 128;
constexpr uint32_t kScsiDisk15Major = 135;

struct Translated {
	uint32_t minor;
	uint32_t name_index;
};

// Legacy (non-extended) vdev: 8 bits of major, 8 of minor. Emulated IDE
// and SCSI disks map onto xvd names and minors the way in-tree does.
bool translate_legacy(uint32_t vdevice, Translated *out) noexcept
{
	const uint32_t major = vdevice >> 8;
	const uint32_t minor = vdevice & 0xff;

	if (major == kIde0Major) {
		out->name_index = minor / 64;
		out->minor = (minor / 64) * kPartsPerDisk;
	} else if (major == kIde1Major) {
		out->name_index = minor / 64 + 2;
		out->minor = (minor / 64 + 2) * kPartsPerDisk;
	} else if (major == kScsiDisk0Major) {
		out->name_index = minor / kPartsPerDisk;
		out->minor = minor;
	} else if (major >= kScsiDisk1Major && major <= kScsiDisk7Major) {
		const uint32_t group = major - kScsiDisk1Major + 1;
		out->name_index = minor / kPartsPerDisk + group * 16;
		out->minor = minor + group * 16 * kPartsPerDisk;
	} else if (major >= kScsiDisk8Major && major <= kScsiDisk15Major) {
		const uint32_t group = major - kScsiDisk8Major + 8;
		out->name_index = minor / kPartsPerDisk + group * 16;
		out->minor = minor + group * 16 * kPartsPerDisk;
	} else if (major == kXenVbdMajor) {
		out->name_index = minor / kPartsPerDisk;
		out->minor = minor;
	} else {
		return false;
	}
	return true;
}

// "a".."z", "aa".."az", ... (bijective base 26), as in-tree encodes disks.
// Returns the number of letters written, 0 if they do not fit.
size_t encode_disk_letters(uint32_t n, char *out, size_t room) noexcept
{
	char rev[8];
	size_t len = 0;
	for (;;) {
		rev[len++] = static_cast<char>('a' + n % 26);
		if (n < 26)
			break;
		n = n / 26 - 1;
	}
	if (len > room)
		return 0;
	for (size_t i = 0; i < len; i++)
		out[i] = rev[len - 1 - i];
	return len;
}

} // namespace

Result<VdevLayout> layout_for_vdev(uint32_t vdevice) noexcept
{
	if ((vdevice >> kExtShift) > 1)
		return Status::error(err::kNoDev);

	Translated t{};
	uint32_t parts;
	if (!(vdevice & kExtended)) {
		if (!translate_legacy(vdevice, &t))
			return Status::error(err::kNoDev);
		parts = kPartsPerDisk;
	} else {
		t.minor = vdevice & ~kExtended;
		parts = kPartsPerExtDisk;
		t.name_index = t.minor / parts;
	}
	if (t.minor >> kMinorBits)
		return Status::error(err::kNoDev);

	VdevLayout layout{};
	layout.first_minor = t.minor;
	layout.minors = (t.minor % parts == 0) ? parts : 1;

	// "xvd" + letters [+ partition number], NUL-terminated.
	char *p = layout.name;
	size_t room = kDiskNameLen - 1;
	p[0] = 'x';
	p[1] = 'v';
	p[2] = 'd';
	p += 3;
	room -= 3;
	size_t n = encode_disk_letters(t.name_index, p, room);
	if (n == 0)
		return Status::error(err::kNoDev);
	p += n;
	room -= n;
	if (layout.minors == 1) {
		// room excludes the NUL; format_u64 counts it.
		n = xs::format_u64(t.minor & (parts - 1), p, room + 1);
		if (n == 0)
			return Status::error(err::kNoDev);
		p += n;
	}
	*p = '\0';
	return layout;
}

Result<uint32_t> parse_vdevice(const char *text) noexcept
{
	if (!text || !*text)
		return Status::error(err::kInval);
	uint64_t v = 0;
	const char *p = text;
	unsigned base = 10;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
		if (!*p)
			return Status::error(err::kInval);
	}
	for (; *p; p++) {
		unsigned digit;
		if (*p >= '0' && *p <= '9')
			digit = static_cast<unsigned>(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			digit = static_cast<unsigned>(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			digit = static_cast<unsigned>(*p - 'A' + 10);
		else
			return Status::error(err::kInval);
		if (digit >= base)
			return Status::error(err::kInval);
		v = v * base + digit;
		if (v > 0x7fffffffu)	// %i into an int
			return Status::error(err::kInval);
	}
	return static_cast<uint32_t>(v);
}

uint16_t handle_from_nodename(const char *nodename) noexcept
{
	const char *last = nodename;
	for (const char *p = nodename; *p; p++)
		if (*p == '/')
			last = p + 1;
	uint32_t v = 0;
	for (const char *p = last; *p >= '0' && *p <= '9'; p++)
		v = v * 10 + static_cast<uint32_t>(*p - '0');
	return static_cast<uint16_t>(v);
}

Result<Box<MinorRegistry>> MinorRegistry::create() noexcept
{
	auto lock = IrqSpinLock::create("xbc_blkfront_minors");
	if (lock.is_error())
		return lock.status();
	Box<MinorRegistry> reg = xbc::create<MinorRegistry>(Gfp::kKernel, lock.take());
	if (reg.is_null())
		return Status::error(err::kNoMem);
	return reg;
}

MinorRegistry::~MinorRegistry()
{
	// Disks release their ranges before the driver goes; anything left is
	// a bug we report (List's destructor) rather than crash on.
	ranges_.with([](auto &ranges) {
		while (MinorRange *r = ranges.pop_front())
			r->count = 0;
	});
}

Status MinorRegistry::reserve(MinorRange &range, uint32_t first, uint32_t count) noexcept
{
	if (count == 0 || first + count < first || range.node.is_linked())
		return Status::error(err::kInval);
	return ranges_.with([&](auto &ranges) {
		for (MinorRange &held : ranges)
			if (first < held.first + held.count && held.first < first + count)
				return Status::error(err::kBusy);
		range.first = first;
		range.count = count;
		ranges.push_back(range);
		return Status::ok();
	});
}

void MinorRegistry::release(MinorRange &range) noexcept
{
	if (!range.node.is_linked())
		return;
	ranges_.with([&](auto &ranges) { ranges.remove(range); });
	range.count = 0;
}

} // namespace xbc::blkfront
