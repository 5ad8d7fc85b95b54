/*
 * submit.c - HTTPS POST and sendmail submission of TLSRPT reports;
 * contract: submit.h.
 */
#include "submit.h"
#include "address.h"
#include "fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* the collector's answer body is not needed: counted and dropped */
static size_t discard_cb(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

typedef struct open_ctx {
    bool allow_private;
    char refused[INET6_ADDRSTRLEN];
} open_ctx;

/* every connection libcurl opens: refuse non-public addresses (a domain's
 * rua must not reach into the reporter's own network) */
static curl_socket_t open_cb(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
    open_ctx *o = ctx;
    char text[INET6_ADDRSTRLEN] = "";

    (void)purpose;
    if (a->family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)&a->addr)->sin_addr, text,
                  sizeof text);
    else if (a->family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)&a->addr)->sin6_addr, text,
                  sizeof text);
    if (!o->allow_private && !mtasts_address_public(text)) {
        if (!o->refused[0])
            memcpy(o->refused, text, sizeof o->refused);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

mtasts_status tlsrpt_post(const tlsrpt_post_config *cfg, const char *url, const void *body,
                          size_t len, long *status, mtasts_err *err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdr = NULL, *h2;
    struct stat sb;
    open_ctx oc = { cfg->allow_private || (cfg->proxy && *cfg->proxy), "" };
    CURL *c;
    CURLcode rc;

    *status = 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!(c = curl_easy_init()) ||
        !(hdr = curl_slist_append(NULL, "Content-Type: application/tlsrpt+gzip")) ||
        !(h2 = curl_slist_append(hdr, "Expect:"))) {
        curl_slist_free_all(hdr);
        curl_easy_cleanup(c);
        mtasts_errf(err, "cannot set up libcurl");
        return MTASTS_TEMPFAIL;
    }
    hdr = h2;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (cfg->ca_file || cfg->ca_path) {
        curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
        curl_easy_setopt(c, CURLOPT_CAPATH, cfg->ca_path);
    } else if (stat(MTASTS_FETCH_CA_PATH_DEFAULT, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        curl_easy_setopt(c, CURLOPT_CAINFO, NULL);
        curl_easy_setopt(c, CURLOPT_CAPATH, MTASTS_FETCH_CA_PATH_DEFAULT);
    }
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROXY, cfg->proxy && *cfg->proxy ? cfg->proxy : "");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "exim-mtasts/" MTASTS_VERSION);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_cb);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &oc);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdr);
    if (rc != CURLE_OK && oc.refused[0]) {
        mtasts_errf(err, "refused: non-public address %s (allow_private_policy_host)",
                    oc.refused);
        return MTASTS_TEMPFAIL;
    }
    if (rc != CURLE_OK) {
        mtasts_errf(err, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return MTASTS_TEMPFAIL;
    }
    if (*status < 200 || *status > 299) {
        mtasts_errf(err, "HTTP %ld", *status);
        return MTASTS_TEMPFAIL;
    }
    return MTASTS_OK;
}

/* the child: stdin from the pipe, no other descriptor, exec (no shell) */
static void sendmail_child(int rfd, const char *sendmail, const char *sender)
{
    char *argv[8];
    int n = 0, max;

    if (dup2(rfd, 0) < 0)
        _exit(127);
    max = (int)sysconf(_SC_OPEN_MAX);
    for (int fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
        close(fd);
    signal(SIGPIPE, SIG_DFL);
    argv[n++] = (char *)sendmail;
    argv[n++] = "-t";
    argv[n++] = "-oi";
    if (sender && *sender) {
        argv[n++] = "-f";
        argv[n++] = (char *)sender;
    }
    argv[n] = NULL;
    execv(sendmail, argv);
    fprintf(stderr, "mtasts: %s: %s\n", sendmail, strerror(errno));
    _exit(127);
}

mtasts_status tlsrpt_sendmail(const char *sendmail, const char *sender, const char *msg,
                              unsigned timeout_s, mtasts_err *err)
{
    int fds[2], status = 0;
    size_t len = strlen(msg), off = 0;
    void (*old)(int);
    pid_t pid, w;
    time_t deadline;

    if (!sendmail || sendmail[0] != '/') {
        mtasts_errf(err, "tlsrpt_sendmail: not an absolute path");
        return MTASTS_TEMPFAIL;
    }
    if (pipe(fds) != 0) {
        mtasts_errf(err, "sendmail: pipe: %s", strerror(errno));
        return MTASTS_TEMPFAIL;
    }
    fflush(NULL);
    if ((pid = fork()) < 0) {
        close(fds[0]);
        close(fds[1]);
        mtasts_errf(err, "sendmail: fork: %s", strerror(errno));
        return MTASTS_TEMPFAIL;
    }
    if (pid == 0) {
        close(fds[1]);
        sendmail_child(fds[0], sendmail, sender);
    }
    close(fds[0]);
    old = signal(SIGPIPE, SIG_IGN);
    /* One deadline for writing and waiting: a sendmail that stops reading
     * (a message larger than the pipe) must not block us either. */
    deadline = time(NULL) + (time_t)timeout_s;
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    while (off < len) {
        ssize_t n = write(fds[1], msg + off, len - off);

        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            struct pollfd pf = { fds[1], POLLOUT, 0 };
            time_t left = deadline - time(NULL);

            if (left <= 0)
                break;
            poll(&pf, 1, 1000);   /* the deadline is checked again */
            continue;
        }
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(fds[1]);
    signal(SIGPIPE, old);
    /* bounded wait: the child is ours, killed by its pid if it hangs */
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && time(NULL) < deadline) {
        struct timespec ts = { 0, 50 * 1000000L };

        nanosleep(&ts, NULL);
    }
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        mtasts_errf(err, "%s: no answer after %u s (killed)", sendmail, timeout_s);
        return MTASTS_TEMPFAIL;
    }
    if (w < 0) {
        mtasts_errf(err, "%s: waitpid: %s", sendmail, strerror(errno));
        return MTASTS_TEMPFAIL;
    }
    if (off < len || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFEXITED(status))
            mtasts_errf(err, "%s -t -oi: exit %d", sendmail, WEXITSTATUS(status));
        else
            mtasts_errf(err, "%s -t -oi: killed by signal %d", sendmail,
                        WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        return MTASTS_TEMPFAIL;
    }
    return MTASTS_OK;
}
