/* The table of checks, in the order they run: name, one line, function.
 * A new check is one function and one row here. */
#include "kit.h"

kit_verdict kit_check_descriptor(kit *k);
kit_verdict kit_check_create(kit *k);
kit_verdict kit_check_choices(kit *k);
kit_verdict kit_check_bad_options(kit *k);
kit_verdict kit_check_shapes(kit *k);
kit_verdict kit_check_lengths(kit *k);
kit_verdict kit_check_determinism(kit *k);
kit_verdict kit_check_gradient(kit *k);
kit_verdict kit_check_gradient_resampled(kit *k);
kit_verdict kit_check_gradient_reach(kit *k);
kit_verdict kit_check_sample_step(kit *k);
kit_verdict kit_check_log_likelihood(kit *k);

const kit_check kit_checks[] = {
    {"descriptor", "name, version, description, ABI, required slots, option rows well formed",
     kit_check_descriptor},
    {"create", "create/destroy with the defaults; parameters '<name>/...', finite, a function of "
               "the seed; a duplicate create refused",
     kit_check_create},
    {"choices", "create, an IWAE pass and destroy with every declared choice value",
     kit_check_choices},
    {"bad_options", "malformed, out-of-choice and --bad values refused with FIVO_ERR_INVALID "
                    "(host path and plugin alone)",
     kit_check_bad_options},
    {"shapes", "zero_state and propose_and_weight: rows, rows x 1 finite log weights, state "
               "never modified in place",
     kit_check_shapes},
    {"lengths", "a batch of unequal lengths: each sequence's log p-hat equals its run alone",
     kit_check_lengths},
    {"determinism", "same seed, same log weights bit for bit; another seed, others",
     kit_check_determinism},
    {"gradient", "tape gradient of sum_b w_b log p-hat_b vs central finite differences",
     kit_check_gradient},
    {"gradient_resampled", "the same through FIVO resampling at every step (--resampler, "
                           "default the bundled multinomial)",
     kit_check_gradient_resampled},
    {"gradient_reach", "every registered parameter gets a finite, non-zero gradient",
     kit_check_gradient_reach},
    {"sample_step", "sample_step frames and states: shapes, finite, binary 0/1, deterministic",
     kit_check_sample_step},
    {"log_likelihood", "exact log p(x) finite, per length, and IWAE with many particles near it",
     kit_check_log_likelihood},
};

const int kit_num_checks = (int)(sizeof kit_checks / sizeof kit_checks[0]);
