/* libFuzzer target: the pianoroll plugin's pickle VM (safe subset of
 * protocols 0-4) on arbitrary bytes. Must refuse or parse, never crash,
 * leak or read out of bounds. */
#include "fuzz_util.h"

#include "pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pkl_doc *doc = NULL;
    const pkl_value *root = NULL;
    fivo_error err = {0};
    if (pkl_load(data, size, "fuzz.pkl", &doc, &root, &err) == FIVO_OK) {
        /* Walk what a reader would look at first. */
        if (root != NULL && root->type == PKL_DICT) {
            (void)pkl_dict_get(root, "train");
            (void)pkl_dict_get(root, "train_mean");
        }
        pkl_free(doc);
    }
    return 0;
}
