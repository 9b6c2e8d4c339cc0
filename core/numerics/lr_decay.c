/* The learning-rate schedule of the reference's experimental trainer
 * (tf.train.exponential_decay with rate 0.5, staircase=False): the rate
 * halves every decay_steps updates, smoothly, not in stairs. */
#include <fivo/internal/optim.h>

#include <math.h>

double fivo_lr_decay(double learning_rate, long decay_steps, uint64_t step)
{
    if (decay_steps <= 0)
        return learning_rate;
    return learning_rate * pow(0.5, (double)step / (double)decay_steps);
}
