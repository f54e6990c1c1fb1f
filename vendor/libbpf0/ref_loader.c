// The reference loader for objects written for libbpf 0.x: libbpf 0.3 (Debian 11's), linked
// statically, opens and loads OBJ as 0.x did, and prints what the kernel then holds as JSON:
// {"programs": [{"name", "section", "type", "tag", "xlated_len"}], "maps": [{"name", "type",
// "key_size", "value_size", "max_entries", "flags"}]}. Exit 1 (and libbpf's message on stderr)
// when it refuses the object.
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_map *map;
	const char *sep = "";

	if (argc != 2) {
		fprintf(stderr, "usage: %s OBJ\n", argv[0]);
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (libbpf_get_error(obj) || bpf_object__load(obj))
		return 1;
	printf("{\"programs\": [");
	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			return 1;
		printf("%s{\"name\": \"%s\", \"section\": \"%s\", \"type\": %u, \"tag\": \"", sep,
		       bpf_program__name(prog), bpf_program__section_name(prog), info.type);
		for (int i = 0; i < 8; i++)
			printf("%02x", info.tag[i]);
		printf("\", \"xlated_len\": %u}", info.xlated_prog_len);
		sep = ", ";
	}
	printf("], \"maps\": [");
	sep = "";
	bpf_object__for_each_map(map, obj) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		if (bpf_obj_get_info_by_fd(bpf_map__fd(map), &info, &len))
			return 1;
		printf("%s{\"name\": \"%s\", \"type\": %u, \"key_size\": %u, \"value_size\": %u, "
		       "\"max_entries\": %u, \"flags\": %u}", sep, bpf_map__name(map), info.type, info.key_size,
		       info.value_size, info.max_entries, info.map_flags);
		sep = ", ";
	}
	printf("]}\n");
	bpf_object__close(obj);
	return 0;
}
