/* Native test of luhn.c's pure functions: cc test_luhn.c && ./a.out */
#define LUHN_NO_UDF
#include "luhn.c"

#include <stdio.h>
#include <string.h>

static int failures;

static void check_luhn(const char *s, int want) {
    int got = luhn_check(s, strlen(s));
    if (got != want) {
        printf("FAIL luhn_check(\"%s\") = %d, want %d\n", s, got, want);
        failures++;
    }
}

static void check_count(const char *s, int64_t want) {
    int64_t got = digit_count(s, strlen(s));
    if (got != want) {
        printf("FAIL digit_count(\"%s\") = %lld, want %lld\n", s, (long long)got, (long long)want);
        failures++;
    }
}

static void check_mask(const char *s, const char *want) {
    char buf[256];
    size_t n = strlen(s);
    card_mask(s, n, buf);
    buf[n] = 0;
    if (strcmp(buf, want) != 0) {
        printf("FAIL card_mask(\"%s\") = \"%s\", want \"%s\"\n", s, buf, want);
        failures++;
    }
}

int main(void) {
    check_luhn("4539 3195 0343 6467", 1);
    check_luhn("4539319503436467", 1);
    check_luhn("8273 1232 7352 0569", 0);
    check_luhn("79927398713", 1);
    check_luhn("79927398710", 0);
    check_luhn(" 7992 7398 713 ", 1);
    check_luhn("1234-5678", 0);          /* '-' is not allowed */
    check_luhn("4539-3195-0343-6467", 0);
    check_luhn("4539\t3195 0343 6467", 0); /* only ' ' is ignored */
    check_luhn("", 0);                   /* no digits */
    check_luhn("    ", 0);
    check_luhn("0", 1);                  /* plain Luhn: sum 0 */
    check_luhn("00", 1);
    check_luhn("18", 1);
    check_luhn("19", 0);
    check_luhn("059", 1);
    check_luhn("4111111111111111", 1);
    check_luhn("4111111111111112", 0);
    check_luhn("378282246310005", 1);    /* Amex test number */
    check_luhn("\xc3\xa9" "18", 0);       /* non-ASCII */

    check_count("", 0);
    check_count("abc", 0);
    check_count("4539 3195 0343 6467", 16);
    check_count("a1b2c3", 3);

    check_mask("4539 3195 0343 6467", "**** **** **** 6467");
    check_mask("123", "123");
    check_mask("12345", "*2345");
    check_mask("", "");
    check_mask("\xc3\xa9 1234 5678", "\xc3\xa9 **** 5678");

    if (failures) {
        printf("test_luhn: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_luhn: all passed\n");
    return 0;
}
