function score = liblinearpredict(~, x, model)
% Stand-in for liblinear's MEX predictor (the release ships Windows/Linux
% binaries only): a linear model predicts w(1:n) * x' plus the bias term
% w(n+1) * bias when bias >= 0. Written for the videojury parity harness.
x = full(x);
n = numel(x);
w = model.w(:)';
score = w(1:n) * x(:);
if model.bias >= 0
  score = score + w(n + 1) * model.bias;
end
end
