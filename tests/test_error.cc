#include <gtest/gtest.h>
#include <fivo/fivo.h>

TEST(Error, SetFormatsAndReturnsCode)
{
    fivo_error err;
    EXPECT_EQ(fivo_error_set(&err, FIVO_ERR_FORMAT, "%s: offset %d", "x.pkl", 7), FIVO_ERR_FORMAT);
    EXPECT_STREQ(err.message, "x.pkl: offset 7");
    fivo_error_prefix(&err, "reading %s: ", "train");
    EXPECT_STREQ(err.message, "reading train: x.pkl: offset 7");
    EXPECT_EQ(fivo_error_set(nullptr, FIVO_ERR_IO, "ignored"), FIVO_ERR_IO);
}
