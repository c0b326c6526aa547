# Reference values for eihpredict's validation statistics, computed by R packages.
#
# Reads the prediction cases in this folder (written by make_cases.py) and writes
# reference_values.json, which tests/modeling/test_*_vs_r.py compare against. The tests
# never run R; rerun this script only when the cases or the definitions change:
#
#   Rscript tests/data/r/reference.R
#
# Needs (Debian bookworm): r-base-core r-cran-rms r-cran-proc r-cran-metafor
# r-cran-jsonlite r-cran-hmisc; pmsampsize 1.1.3 and pmvalsampsize 0.1.0 from CRAN
# (R CMD INSTALL of the CRAN tarballs; they are pure R). Without them the sample-size
# section is skipped and the tests that need it say so.

suppressMessages({
  library(rms)
  library(pROC)
  library(metafor)
  library(jsonlite)
  library(Hmisc)
})

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", args, value = TRUE))))
read_case <- function(name) read.csv(file.path(here, paste0(name, ".csv")))

ctl <- glm.control(epsilon = 1e-14, maxit = 100)  # converge far past the 1e-6 compared
z <- qnorm(0.975)
threshold <- 0.4                                    # decision threshold of the binary cases
grid <- seq(0.1, 0.8, by = 0.1)                     # calibration-curve grid
nb_thresholds <- c(0.1, 0.2, 0.3, 0.4, 0.5, 0.6)    # decision-curve thresholds

triple <- function(est, lo, hi) unname(c(est, lo, hi))
wald <- function(fit, i) {
  est <- coef(fit)[i]
  se <- sqrt(diag(vcov(fit)))[i]
  triple(est, est - z * se, est + z * se)
}
ttest <- function(x) { tt <- t.test(x, conf.level = 0.95); triple(mean(x), tt$conf.int[1], tt$conf.int[2]) }
wilson <- function(x, n) {
  ci <- prop.test(x, n, correct = FALSE, conf.level = 0.95)$conf.int
  triple(x / n, ci[1], ci[2])
}
delong_ci <- function(y, p) {
  r <- roc(y, p, levels = c(0, 1), direction = "<", quiet = TRUE)
  ci <- ci.auc(r, method = "delong", conf.level = 0.95)
  list(ci = triple(ci[2], ci[1], ci[3]), var = var(r, method = "delong"))
}
oe <- function(y, p) {
  O <- sum(y); E <- sum(p); n <- length(y)
  se <- sqrt((1 - O / n) / O)
  triple(O / E, O / E * exp(-z * se), O / E * exp(z * se))
}

binary_case <- function(name) {
  d <- read_case(name)
  y <- d$y; p <- d$p; lp <- qlogis(p)
  v <- val.prob(p, y, pl = FALSE)
  slope <- glm(y ~ lp, family = binomial, control = ctl)
  citl <- glm(y ~ 1, offset = lp, family = binomial, control = ctl)
  treat <- p >= threshold
  out <- list(
    val_prob = as.list(v[c("Dxy", "C (ROC)", "Brier", "Intercept", "Slope")]),
    somers2_C = unname(somers2(p, y)["C"]),   # exact Mann-Whitney C (val.prob bins)
    recalibration = list(intercept = unname(coef(slope)[1]), slope = unname(coef(slope)[2]),
                         loglik = as.numeric(logLik(slope)),
                         citl = unname(coef(citl)[1]), citl_loglik = as.numeric(logLik(citl))),
    metrics = list(
      auroc = delong_ci(y, p)$ci,
      brier = ttest((p - y)^2),
      log_loss = ttest(-(y * log(p) + (1 - y) * log(1 - p))),
      calibration_slope = wald(slope, 2),
      calibration_in_the_large = wald(citl, 1),
      observed_expected = oe(y, p),
      sensitivity = wilson(sum(treat & y == 1), sum(y == 1)),
      specificity = wilson(sum(!treat & y == 0), sum(y == 0))
    )
  )
  # Flexible calibration curve: logistic regression on a restricted cubic spline of
  # logit(p), 4 knots at Harrell's default quantiles, delta-method band on the logit scale.
  if (length(y) >= 100) {
    knots <- quantile(lp, seq(0.05, 0.95, length.out = 4), type = 7, names = FALSE)
    X <- rcspline.eval(lp, knots = knots, inclx = TRUE)
    fit <- glm(y ~ X, family = binomial, control = ctl)
    Xg <- cbind(1, rcspline.eval(qlogis(grid), knots = knots, inclx = TRUE))
    eta <- drop(Xg %*% coef(fit))
    se <- sqrt(rowSums((Xg %*% vcov(fit)) * Xg))
    out$calibration_curve <- list(predicted = grid, observed = plogis(eta),
                                  ci_low = plogis(eta - z * se), ci_high = plogis(eta + z * se))
  }
  nb <- t(sapply(nb_thresholds, function(t) {
    d_i <- (p >= t) * (y - (1 - y) * t / (1 - t))
    ttest(d_i)
  }))
  out$net_benefit <- list(threshold = nb_thresholds, net_benefit = nb[, 1],
                          ci_low = nb[, 2], ci_high = nb[, 3])
  out
}

continuous_case <- function() {
  d <- read_case("continuous")
  e <- d$y - d$predicted
  fit <- lm(y ~ predicted, data = d)
  ci <- confint(fit, level = 0.95)
  mse <- ttest(e^2)
  inside <- sum(d$y >= d$pi_low & d$y <= d$pi_high)
  list(
    r2 = 1 - sum(e^2) / sum((d$y - mean(d$y))^2),
    rmse = sqrt(mse),
    mae = ttest(abs(e)),
    calibration_slope = triple(coef(fit)[2], ci[2, 1], ci[2, 2]),
    calibration_intercept = triple(coef(fit)[1], ci[1, 1], ci[1, 2]),
    calibration_in_the_large = ttest(e),
    pi_coverage = wilson(inside, nrow(d)),
    pi_width = ttest(d$pi_high - d$pi_low)
  )
}

multiclass_case <- function() {
  d <- read_case("multiclass")
  classes <- c("hypoalgesia", "no_change", "hyperalgesia")
  P <- as.matrix(d[, paste0("p_", classes)])
  code <- match(d$y, classes)
  Y <- outer(code, seq_along(classes), "==") * 1
  out <- list()
  for (j in seq_along(classes)) {
    yj <- Y[, j]; pj <- P[, j]; lp <- qlogis(pj)
    out[[paste0("auroc_", classes[j])]] <- delong_ci(yj, pj)$ci
    out[[paste0("calibration_slope_", classes[j])]] <-
      wald(glm(yj ~ lp, family = binomial, control = ctl), 2)
    out[[paste0("calibration_in_the_large_", classes[j])]] <-
      wald(glm(yj ~ 1, offset = lp, family = binomial, control = ctl), 1)
    out[[paste0("observed_expected_", classes[j])]] <- oe(yj, pj)
  }
  out$auroc_macro_estimate <- mean(sapply(classes, function(k) out[[paste0("auroc_", k)]][1]))
  out$brier <- ttest(rowSums((P - Y)^2))
  out$log_loss <- ttest(-log(P[cbind(seq_len(nrow(P)), code)]))
  out
}

multisite_case <- function() {
  d <- read_case("multisite")
  sites <- unique(d$site)
  per <- do.call(rbind, lapply(sites, function(s) {
    g <- d[d$site == s, ]
    lp <- qlogis(g$p)
    dl <- delong_ci(g$y, g$p)
    C <- dl$ci[1]
    slope <- glm(g$y ~ lp, family = binomial, control = ctl)
    citl <- glm(g$y ~ 1, offset = lp, family = binomial, control = ctl)
    O <- sum(g$y); E <- sum(g$p); n <- nrow(g)
    data.frame(site = s, n = n, events = O, c_statistic = C, logit_c = qlogis(C),
               logit_c_se = sqrt(dl$var) / (C * (1 - C)),
               calibration_slope = unname(coef(slope)[2]),
               calibration_slope_se = unname(sqrt(diag(vcov(slope)))[2]),
               calibration_in_the_large = unname(coef(citl)[1]),
               calibration_in_the_large_se = unname(sqrt(diag(vcov(citl)))[1]),
               log_oe = log(O / E), log_oe_se = sqrt((1 - O / n) / O))
  }))
  rma_ctl <- list(threshold = 1e-12, maxiter = 10000)
  meta <- function(yi, sei, method, test) {
    m <- rma(yi = yi, sei = sei, method = method, test = test, control = rma_ctl)
    k <- length(yi)
    half <- qt(0.975, k - 2) * sqrt(m$tau2 + m$se^2)   # Riley 2011 prediction interval
    pr <- predict(m)
    list(estimate = unname(m$b[1]), se = m$se, ci_low = m$ci.lb, ci_high = m$ci.ub,
         tau2 = m$tau2, i2 = m$I2, q = m$QE, q_pvalue = m$QEp,
         pi_low = unname(m$b[1]) - half, pi_high = unname(m$b[1]) + half,
         metafor_pi_low = pr$pi.lb, metafor_pi_high = pr$pi.ub)
  }
  measures <- list(c_statistic = c("logit_c", "logit_c_se"),
                   calibration_slope = c("calibration_slope", "calibration_slope_se"),
                   calibration_in_the_large = c("calibration_in_the_large",
                                                "calibration_in_the_large_se"),
                   observed_expected = c("log_oe", "log_oe_se"))
  pooled <- list()
  for (m in names(measures)) {
    cols <- measures[[m]]
    for (method in c("REML", "DL")) for (test in c("z", "knha")) {
      pooled[[m]][[paste(method, test, sep = "_")]] <-
        meta(per[[cols[1]]], per[[cols[2]]], method, test)
    }
  }
  list(sites = per, pooled = pooled)
}

update_case <- function(name) {
  d <- read_case(name)
  y <- d$y; lp <- d$lp
  ll_original <- sum(dbinom(y, 1, plogis(lp), log = TRUE))
  intercept <- glm(y ~ 1, offset = lp, family = binomial, control = ctl)
  logistic <- glm(y ~ lp, family = binomial, control = ctl)
  refit <- glm(y ~ x1 + x2 + x3, data = d, family = binomial, control = ctl)
  ll <- c(original = ll_original, intercept = as.numeric(logLik(intercept)),
          logistic = as.numeric(logLik(logistic)))
  df_refit <- length(coef(refit))
  ll_refit <- as.numeric(logLik(refit))
  params <- c(original = 0, intercept = 1, logistic = 2)
  tests <- list()
  chosen <- "refit"
  for (m in names(ll)) {   # Vergouwe et al. 2017: each against the refit, simplest first
    lr <- 2 * (ll_refit - ll[[m]])
    df <- df_refit - params[[m]]
    pv <- pchisq(lr, df, lower.tail = FALSE)
    tests[[length(tests) + 1]] <- list(model = m, loglik = ll[[m]], df = df,
                                       lr_statistic = lr, p_value = pv)
    if (pv >= 0.05) { chosen <- m; break }
  }
  list(refit_loglik = ll_refit, refit_df = df_refit, method = chosen, tests = tests,
       intercept = wald(intercept, 1), logistic_intercept = wald(logistic, 1),
       logistic_slope = wald(logistic, 2))
}

samplesize_case <- function() {
  if (!requireNamespace("pmsampsize", quietly = TRUE)) return(NULL)
  tab <- function(x) {
    rt <- x$results_table
    list(n = unname(rt[, "Samp_size"]), shrinkage = unname(rt[, "Shrinkage"]),
         rsquared = x$rsquared)
  }
  b <- function(...) tab(pmsampsize::pmsampsize(type = "b", ...))
  cont <- function(...) {
    x <- pmsampsize::pmsampsize(type = "c", ...)
    list(n = unname(x$results_table[, "Samp_size"]),
         shrinkage = unname(x$results_table[, "Shrinkage"]))
  }
  # The C-statistic route simulates one sample of a million rows; the mean over 20 seeds
  # estimates the exact value the Python quadrature computes.
  r2_from_c <- function(cstat, prev) {
    draws <- sapply(1:20, function(s) pmsampsize:::cstat2rsq(cstat, prev, seed = s)$R2.coxsnell)
    list(mean = mean(draws), sd = sd(draws), seed_123456 =
           pmsampsize:::cstat2rsq(cstat, prev, seed = 123456)$R2.coxsnell)
  }
  out <- list(
    binary = list(
      csr_0.288_p24_prev0.174 = b(csrsquared = 0.288, parameters = 24, prevalence = 0.174),
      csr_0.55_p24_prev0.174 = b(csrsquared = 0.55, parameters = 24, prevalence = 0.174),
      csr_0.288_p36_prev0.174 = b(csrsquared = 0.288, parameters = 36, prevalence = 0.174),
      csr_0.288_p24_prev0.25 = b(csrsquared = 0.288, parameters = 24, prevalence = 0.25),
      nag_0.5_p24_prev0.174 = b(nagrsquared = 0.5, parameters = 24, prevalence = 0.174),
      nag_0.2_p10_prev0.4 = b(nagrsquared = 0.2, parameters = 10, prevalence = 0.4),
      c_0.89_p24_prev0.174 = b(cstatistic = 0.89, parameters = 24, prevalence = 0.174),
      csr_0.1_p30_prev0.3_s0.85 = b(csrsquared = 0.1, parameters = 30, prevalence = 0.3,
                                    shrinkage = 0.85)
    ),
    r2_from_c = list(c0.89_prev0.174 = r2_from_c(0.89, 0.174),
                     c0.75_prev0.2 = r2_from_c(0.75, 0.2),
                     c0.65_prev0.45 = r2_from_c(0.65, 0.45)),
    continuous = list(
      r0.2_p25_i1.9_sd0.6 = cont(rsquared = 0.2, parameters = 25, intercept = 1.9, sd = 0.6),
      r0.3_p25_i1.9_sd0.6 = cont(rsquared = 0.3, parameters = 25, intercept = 1.9, sd = 0.6),
      r0.2_p50_i1.9_sd0.6 = cont(rsquared = 0.2, parameters = 50, intercept = 1.9, sd = 0.6),
      r0.5_p100_i1.9_sd2 = cont(rsquared = 0.5, parameters = 100, intercept = 1.9, sd = 2),
      r0.89_p30_i3.3_sd1.1_s0.84 = cont(rsquared = 0.89, parameters = 30, intercept = 3.3,
                                        sd = 1.1, shrinkage = 0.84)
    )
  )
  if (requireNamespace("pmvalsampsize", quietly = TRUE)) {
    val <- function(...) {
      x <- suppressMessages(pmvalsampsize::pmvalsampsize(type = "b", ...))
      unname(x$results_table[, "Samp_size"])
    }
    out$validation <- list(
      documented_lpnormal_simobs1000 = val(prevalence = 0.018, cstatistic = 0.8,
                                           lpnormal = c(-5, 2.5), oeciwidth = 1, simobs = 1000),
      lpnormal_simobs4e6 = val(prevalence = 0.018, cstatistic = 0.8, lpnormal = c(-5, 2.5),
                               oeciwidth = 1, simobs = 4000000),
      lpnormal_default_widths_simobs4e6 = val(prevalence = 0.3, cstatistic = 0.72,
                                              lpnormal = c(-1, 1), simobs = 4000000)
    )
  }
  out
}

ref <- list(
  generated_by = "tests/data/r/reference.R",
  r_version = R.version.string,
  packages = lapply(c(rms = "rms", pROC = "pROC", metafor = "metafor", Hmisc = "Hmisc",
                      pmsampsize = "pmsampsize", pmvalsampsize = "pmvalsampsize"),
                    function(p) if (requireNamespace(p, quietly = TRUE))
                      as.character(packageVersion(p)) else NA),
  threshold = threshold,
  binary = lapply(c(calibrated = "binary_calibrated", shifted = "binary_shifted",
                    small = "binary_small", ties = "binary_ties"), binary_case),
  continuous = continuous_case(),
  multiclass = multiclass_case(),
  multisite = multisite_case(),
  update = lapply(c(shift = "update_shift", revised = "update_revised"), update_case),
  samplesize = samplesize_case()
)
write_json(ref, file.path(here, "reference_values.json"), digits = NA, auto_unbox = TRUE,
           pretty = TRUE, dataframe = "columns")
cat("wrote", file.path(here, "reference_values.json"), "\n")
