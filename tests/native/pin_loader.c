// Native libbpf loader for parity tests: opens OBJ with pin_root_path = ROOT, loads it, and
// prints one JSON object: {"maps": {name: {"id", "type", "key_size", "value_size",
// "max_entries", "flags", "pin_path"}}} or {"error": -errno}. Exit status 0 or 1.
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s OBJ PIN_ROOT\n", argv[0]);
		return 2;
	}
	libbpf_set_print(quiet);
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = argv[2]);
	struct bpf_object *obj = bpf_object__open_file(argv[1], &opts);
	int err = libbpf_get_error(obj);
	if (err) {
		printf("{\"error\": %d, \"stage\": \"open\"}\n", err);
		return 1;
	}
	err = bpf_object__load(obj);
	if (err) {
		printf("{\"error\": %d, \"stage\": \"load\"}\n", err);
		bpf_object__close(obj);
		return 1;
	}
	struct bpf_map *map;
	const char *sep = "";
	printf("{\"maps\": {");
	bpf_object__for_each_map(map, obj) {
		struct bpf_map_info info;
		__u32 len = sizeof(info);
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(bpf_map__fd(map), &info, &len))
			continue;
		const char *pin = bpf_map__pin_path(map);
		printf("%s\"%s\": {\"id\": %u, \"type\": %u, \"key_size\": %u, \"value_size\": %u, "
		       "\"max_entries\": %u, \"flags\": %u, \"pin_path\": %s%s%s}",
		       sep, bpf_map__name(map), info.id, info.type, info.key_size, info.value_size,
		       info.max_entries, info.map_flags, pin ? "\"" : "", pin ? pin : "null", pin ? "\"" : "");
		sep = ", ";
	}
	printf("}}\n");
	bpf_object__close(obj);
	return 0;
}
