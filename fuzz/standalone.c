/*
 * standalone.c -- replays inputs through a fuzz target without libFuzzer,
 * so the committed corpus and the regression inputs run in the ordinary
 * test suite (meson test `fuzz_corpus`), under any compiler and sanitizer.
 *
 *   usage: fuzz-replay FILE_OR_DIRECTORY...
 *
 * Each file is one input; a directory stands for the files in it (not
 * recursively).  The target aborts on a finding, so reaching the end means
 * every input passed; the name of the input being run is printed first so
 * that a crash can be traced to it.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The whole file, malloc'd (never NULL on success, even when empty). */
static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t capacity = 4096, used = 0;
    uint8_t *data = malloc(capacity);
    while (data != NULL) {
        used += fread(data + used, 1, capacity - used, f);
        if (used < capacity)
            break;
        uint8_t *grown = realloc(data, capacity * 2);
        if (grown == NULL) {
            free(data);
            data = NULL;
            break;
        }
        data = grown;
        capacity *= 2;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(data);
        return NULL;
    }
    *size = used;
    return data;
}

static int replay_file(const char *path)
{
    size_t size = 0;
    uint8_t *data = read_file(path, &size);
    if (data == NULL) {
        fprintf(stderr, "fuzz-replay: cannot read %s\n", path);
        return 1;
    }
    printf("replaying %s (%zu bytes)\n", path, size);
    fflush(stdout);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

static int replay_directory(const char *path, int *count)
{
    DIR *dir = opendir(path);
    if (dir == NULL) {
        fprintf(stderr, "fuzz-replay: cannot open %s\n", path);
        return 1;
    }
    int failures = 0;
    for (struct dirent *entry; (entry = readdir(dir)) != NULL;) {
        if (entry->d_name[0] == '.')
            continue; /* ., .., and hidden files such as .gitkeep */
        size_t length = strlen(path) + strlen(entry->d_name) + 2;
        char *file = malloc(length);
        if (file == NULL)
            return 1;
        snprintf(file, length, "%s/%s", path, entry->d_name);
        failures += replay_file(file);
        ++*count;
        free(file);
    }
    closedir(dir);
    return failures;
}

int main(int argc, char **argv)
{
    int failures = 0, count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            failures += replay_directory(argv[i], &count);
        } else {
            failures += replay_file(argv[i]);
            count++;
        }
    }
    printf("fuzz-replay: %d passed, %d failed\n", count - failures, failures);
    return failures != 0;
}
